/**
 * Records one ipmitool lanplus exchange with a BMC (ipmi_sim, or the BMC emulator for -C 17) as hex, through a
 * loopback UDP proxy, for the golden vectors in test/drivers/ipmi/rmcp.test.ts:
 *
 *   node --loader @isaacs/ts-node-temp-fork-for-pr-2009/esm test/ipmi/record.ts <sim-port> <cipher-suite> <out.json> [ipmitool args...]
 *   (recordings are kept in test/fixtures/ipmi/recorded-*.json)
 *
 * The recording holds every datagram in order, with the user name and password
 * of the simulator (test credentials only), so the test can recompute the keys.
 */
import { createSocket, type RemoteInfo } from 'node:dgram'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'

const [simPort, cipher, out, ...args] = process.argv.slice(2)
const user = 'ADMIN'
const password = 'ADMIN'
const frames: Array<{ dir: 'rq' | 'rs', hex: string }> = []
const proxy = createSocket('udp4')
const upstream = createSocket('udp4')
let client: RemoteInfo | undefined

proxy.on('message', (msg, rinfo) => {
  client = rinfo
  frames.push({ dir: 'rq', hex: msg.toString('hex') })
  upstream.send(msg, Number(simPort), '127.0.0.1')
})
upstream.on('message', (msg) => {
  frames.push({ dir: 'rs', hex: msg.toString('hex') })
  if (client !== undefined) proxy.send(msg, client.port, client.address)
})
proxy.bind(0, '127.0.0.1', () => {
  const port = proxy.address().port
  const cmd = args.length > 0 ? args : ['mc', 'info']
  execFile('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', user, '-P', password, '-C', cipher, '-R', '1', '-N', '2', ...cmd], { timeout: 20000 }, (err, stdout) => {
    writeFileSync(out, JSON.stringify({ tool: `ipmitool -I lanplus -C ${cipher} ${cmd.join(' ')}`, user, password, stdout, frames }, null, 2) + '\n')
    proxy.close()
    upstream.close()
    if (err != null) { console.error(err); process.exitCode = 1 }
  })
})
