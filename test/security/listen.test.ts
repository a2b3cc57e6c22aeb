import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { CLI, exited, startListening } from '../cli-process.js'
import { resolveConfig } from '../../config/service-config.js'
import { isLoopbackHost } from '../../drivers/net.js'
import { exposedWithoutAuth } from '../../server.js'

/** A GET with the Host header we choose (fetch() sets its own). */
async function getWithHost (host: string, port: number, path: string, hostHeader: string): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers: { host: hostHeader }, timeout: 5000 }, (res) => {
      let body = ''
      res.on('data', (d) => { body += String(d) })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.end()
  })
}

t.test('the loopback test, written once', async (t) => {
  for (const host of ['localhost', 'LOCALHOST', 'api.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) t.ok(isLoopbackHost(host), host)
  for (const host of ['0.0.0.0', '::', '192.0.2.10', '10.127.0.1', 'localhost.example', '127.0.0.1.nip.io', 'attacker.example', '']) t.notOk(isLoopbackHost(host), host)
  t.ok(exposedWithoutAuth('0.0.0.0'))
  t.notOk(exposedWithoutAuth('0.0.0.0', true), 'authentication on: no warning')
})

t.test('where serve listens: loopback with no authentication, 0.0.0.0 with it, else where named', async (t) => {
  t.match(resolveConfig({}), { host: 'localhost', listenHosts: ['127.0.0.1', '::1'], hostExplicit: false })
  t.match(resolveConfig({ usersFile: '/nonexistent/users.json' }), { listenHosts: ['0.0.0.0'] })
  t.match(resolveConfig({ host: '0.0.0.0' }), { listenHosts: ['0.0.0.0'], hostExplicit: true })
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-listen-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'c.json'), JSON.stringify({ host: '192.0.2.1', allowed_hosts: ['OpenDCRE.internal'], cors_origins: ['https://ops.example'] }))
  t.match(resolveConfig({ config: join(dir, 'c.json') }), { listenHosts: ['192.0.2.1'], allowedHosts: ['opendcre.internal'], corsOrigins: ['https://ops.example'] })
})

t.test('opendcre serve with no --host: 127.0.0.1 and ::1 both answer; a foreign Host is refused 421', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-listen-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'opendcre_config.json'), JSON.stringify({ allowed_hosts: ['opendcre.internal'] }))
  const { child, url } = await startListening(process.execPath, [CLI, 'serve', '--port', '0', '--emulator', 'emulator-configs/simple.json', '--config', join(dir, 'opendcre_config.json'), '--log-dir', dir])
  t.teardown(() => { child.kill('SIGKILL') })
  const port = Number(new URL(url).port)

  t.equal((await getWithHost('127.0.0.1', port, '/opendcre/1.2/test', `127.0.0.1:${port}`)).status, 200, '127.0.0.1')
  t.equal((await getWithHost('::1', port, '/opendcre/1.2/test', `[::1]:${port}`)).status, 200, '::1, on the same port')
  t.equal((await getWithHost('127.0.0.1', port, '/opendcre/1.2/test', `localhost:${port}`)).status, 200, 'Host: localhost')
  t.equal((await getWithHost('127.0.0.1', port, '/opendcre/1.2/test', 'opendcre.internal')).status, 200, 'a name in allowed_hosts')
  for (const host of ['attacker.example', `attacker.example:${port}`, '192.0.2.7', 'localhost.attacker.example']) {
    const res = await getWithHost('127.0.0.1', port, '/opendcre/1.2/power/00000001/000d/off', host)
    t.equal(res.status, 421, `Host: ${host}`)
    t.match(JSON.parse(res.body), { message: /answers to localhost and loopback addresses only/ })
  }
  const exit = exited(child)
  child.kill('SIGTERM')
  t.equal(await exit, 0, 'stops cleanly, both listeners closed')
  const lines = readFileSync(join(dir, 'opendcre-access.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  const started = lines.find((l) => l.msg === 'OpenDCRE started')
  t.match(started, { address: `http://127.0.0.1:${port}`, also: [`http://[::1]:${port}`] }, 'the startup line names both')
  t.notOk(lines.some((l) => /no authentication/.test(l.msg)), 'loopback: no warning')
  const audit = readFileSync(join(dir, 'opendcre-audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  t.equal(audit.filter((l) => l.status === 421 && l.refused === 'host not allowed').length, 4, 'the refused power-offs are audited')
})
