import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runCli, serveCli } from './cli-process.js'
import { makeCertificates } from './tls-certificates.js'

/**
 * Native HTTPS with real handshakes: certificates made with openssl
 * (tls-certificates.ts), the built CLI listening on 127.0.0.1.
 */
const dir = mkdtempSync(join(tmpdir(), 'opendcre-tls-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

makeCertificates(dir)
const file = (name: string): string => join(dir, name)

async function serve (args: string[]): Promise<{ child: ChildProcess, port: number }> {
  // --no-poll: the emulator's thermistor steps through its values on each read, so no poll may read it before the test does
  const { child, url } = await serveCli(['--log-dir', join(dir, 'logs'), '--no-poll', ...args])
  if (!url.startsWith('https://')) throw new Error(`not an HTTPS listener: ${url}`)
  return { child, port: Number(new URL(url).port) }
}

function get (port: number, options: https.RequestOptions = {}): Promise<{ status: number, body: string, headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/opendcre/1.2/read/thermistor/00000001/0001', ca: readFileSync(file('ca.crt')), ...options }, (res) => {
      let body = ''
      res.on('data', (d) => { body += String(d) })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
  })
}

function plainHttp (port: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/opendcre/1.2/test' }, (res) => {
      let body = ''
      res.on('data', (d) => { body += String(d) })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
  })
}

t.test('HTTPS: a real handshake against the CA; plain HTTP is refused on the TLS port', async (t) => {
  const { child, port } = await serve(['--tls-cert', file('server.crt'), '--tls-key', file('server.key')])
  t.teardown(() => { child.kill('SIGKILL') })
  const res = await get(port)
  t.equal(res.status, 200)
  t.same(JSON.parse(res.body), { temperature_c: 28.78 })
  t.match(res.headers['strict-transport-security'], /max-age=\d+/, 'HSTS on a TLS listener')
  await t.rejects(plainHttp(port), 'plain HTTP gets no answer from the TLS port')
  await t.rejects(get(port, { ca: readFileSync(file('stranger.crt')) }), /self[- ]signed|unable to verify|certificate/i,
    'a client that does not trust the CA refuses the server')
})

t.test('mutual TLS: a client certificate signed by the CA is required', async (t) => {
  const { child, port } = await serve(['--tls-cert', file('server.crt'), '--tls-key', file('server.key'), '--tls-ca', file('ca.crt')])
  t.teardown(() => { child.kill('SIGKILL') })
  const ok = await get(port, { cert: readFileSync(file('client.crt')), key: readFileSync(file('client.key')) })
  t.equal(ok.status, 200, 'a client with a trusted certificate gets its answer')
  await t.rejects(get(port), 'a client without a certificate is rejected in the handshake')
  await t.rejects(get(port, { cert: readFileSync(file('stranger.crt')), key: readFileSync(file('stranger.key')) }),
    'a client whose certificate the CA did not sign is rejected')
})

t.test('TLS configuration errors stop startup with the file and the reason', async (t) => {
  const run = async (args: string[]): Promise<{ code: number | null, stderr: string }> =>
    await runCli(['serve', '--port', '0', '--log-dir', join(dir, 'logs'), ...args])
  let r = await run(['--tls-cert', file('server.crt')])
  t.equal(r.code, 1)
  t.match(r.stderr, 'command line: tls: --tls-cert and --tls-key go together')
  r = await run(['--tls-cert', file('nope.crt'), '--tls-key', file('server.key')])
  t.equal(r.code, 1)
  t.match(r.stderr, `${file('nope.crt')}: --tls-cert: cannot read file (ENOENT)`)
  writeFileSync(file('ssl-config.json'), JSON.stringify({ ssl_enable: true }))
  r = await run(['--config', file('ssl-config.json')])
  t.equal(r.code, 1)
  t.match(r.stderr, `${file('ssl-config.json')}: ssl_cert: ssl_enable is true: name the certificate file`)
})

t.test('opendcre_config.json ssl_enable with ssl_cert/ssl_key serves HTTPS', async (t) => {
  writeFileSync(file('tls-config.json'), JSON.stringify({ ssl_enable: true, ssl_cert: 'server.crt', ssl_key: 'server.key' }))
  const { child, port } = await serve(['--config', file('tls-config.json')])
  t.teardown(() => { child.kill('SIGKILL') })
  t.equal((await get(port)).status, 200)
})
