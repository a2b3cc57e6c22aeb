/**
 * Alerts and retained board states in a real MQTT broker (Debian's
 * mosquitto on a free loopback port), read back with mosquitto_sub: a
 * threshold crossing injected into the BMC emulator is published as a
 * threshold alert, a log alert (its SEL entry) and a retained critical state.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { build } from '../helper.js'
import { startBmc, steadyConfig } from '../bmc-emulator/emulator-kit.js'

const exec = promisify(execFile)

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })
}

/** mosquitto on 127.0.0.1:port, anonymous, stopped when the test ends. */
async function startBroker (t: Parameters<typeof build>[0] & { teardown: (fn: () => unknown) => void }, dir: string): Promise<number> {
  const port = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`)
  const broker: ChildProcess = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(() => { broker.kill() })
  // ready when a client can connect
  const end = Date.now() + 5000
  for (;;) {
    try {
      await exec('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'probe', '-m', 'x'], { timeout: 2000 })
      return port
    } catch (err) {
      if (Date.now() > end) throw err
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

interface Message { topic: string, payload: any }

/** mosquitto_sub -v on a topic filter, until `done` says enough or `seconds` pass; the messages so far. */
async function subscribe (port: number, filter: string, done: (messages: Message[]) => boolean, seconds: number): Promise<Message[]> {
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', filter, '-v', '-W', String(seconds)], { stdio: ['ignore', 'pipe', 'ignore'] })
  const messages: Message[] = []
  return await new Promise((resolve) => {
    let buffer = ''
    sub.stdout.setEncoding('utf8')
    sub.stdout.on('data', (chunk: string) => {
      buffer += chunk
      let end
      while ((end = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, end)
        buffer = buffer.slice(end + 1)
        const space = line.indexOf(' ')
        messages.push({ topic: line.slice(0, space), payload: JSON.parse(line.slice(space + 1)) })
      }
      if (done(messages)) sub.kill()
    })
    sub.once('exit', () => resolve(messages))
  })
}

t.test('MQTT: a threshold crossing published as alerts and a retained state per board', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-mqtt-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const port = await startBroker(t, dir)
  const bmc = await startBmc(t, steadyConfig())
  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({ bmcs: [{ bmc_ip: '127.0.0.1', bmc_port: bmc.port, username: 'ADMIN', password: 'ADMIN' }] }))
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify({
    poll: { interval_s: 0.5, intervals: { ipmi: { default: 0.5 } }, events_s: 0.5, jitter: 0 },
    mqtt: { url: `mqtt://127.0.0.1:${port}`, topic_prefix: 'dc1/opendcre', state_interval_s: 0.5 }
  }))
  const app = await build(t, { bmcConfig, config, poller: { random: () => 0 } })
  await app.listen({ host: '127.0.0.1', port: 0 })

  const first = await subscribe(port, 'dc1/opendcre/40000001/state', (m) => m.some((x) => x.payload.state === 'ok'), 8)
  t.match(first.find((m) => m.payload.state === 'ok')?.payload, { board_id: '40000001', backend: 'ipmi', up: true, state: 'ok' }, 'a retained ok state once the board is judged')

  const isLog = (m: Message): boolean => m.topic === 'dc1/opendcre/40000001/log' && /Upper Critical going high/.test(m.payload.entry.event)
  const alerts = subscribe(port, 'dc1/opendcre/40000001/+', (m) => m.some(isLog) && m.some((x) => x.payload.kind === 'threshold'), 8)
  await new Promise((resolve) => setTimeout(resolve, 500))
  const value = bmc.device.crossThreshold(1, 'ucr')
  const got = await alerts
  const threshold = got.find((m) => m.topic === 'dc1/opendcre/40000001/threshold')
  const log = got.find(isLog)
  t.match(threshold?.payload, { kind: 'threshold', board_id: '40000001', device_id: '0001', state: 'critical', previous: 'ok', value })
  t.match(log?.payload, { kind: 'log', board_id: '40000001', entry: { sensor: 'CPU1 Temp', severity: 'critical' } })

  // a subscriber that comes later still gets the board's state: it is retained
  const later = await subscribe(port, 'dc1/opendcre/+/state', (m) => m.some((x) => x.topic === 'dc1/opendcre/40000001/state'), 5)
  t.match(later.find((x) => x.topic === 'dc1/opendcre/40000001/state'), { topic: 'dc1/opendcre/40000001/state', payload: { state: 'critical', counts: { critical: 1 } } })
})
