/**
 * What authentication costs per request (npm run bench:auth): the same
 * commands against the open configuration (the baseline) and against the
 * service with each provider on, each started as it ships (npm start's
 * command line, its logging and defaults, plus the provider's flags) — HTTP Basic (scrypt, verification cached
 * after a client's first request), Bearer JWT (verified against a JWKS served
 * here), and mutual TLS — interleaved over several rounds in one run, each
 * figure a median, read as a ratio to the open configuration of the same run.
 *
 *   npm run bench:auth                          # 3 rounds x 5 s per case, 50 connections
 *   npm run bench:auth -- --rounds 5 --duration 10
 */
import { createServer } from 'node:http'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { addUser } from '../auth/users-file.js'
import { makeCertificates } from '../test/tls-certificates.js'
import { load, median, startShipped, stop, type Sample } from './harness.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' }
  }
})
const duration = Number(values.duration)
const rounds = Number(values.rounds)
const connections = Number(values.connections)

const dir = mkdtempSync(join(tmpdir(), 'opendcre-bench-auth-'))
const file = (name: string): string => join(dir, name)

// Basic: one operator in a users file of scrypt hashes
await addUser(file('users.json'), 'bench', 'operator', 'bench-password')
const basicHeader = `Basic ${Buffer.from('bench:bench-password').toString('base64')}`

// JWT: an issuer's key pair, its JWKS on loopback, one operator token
const { publicKey, privateKey } = await generateKeyPair('ES256')
const jwk = { ...await exportJWK(publicKey), kid: 'bench', alg: 'ES256', use: 'sig' }
const jwks = createServer((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ keys: [jwk] })) })
await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve))
const jwksPort = (jwks.address() as { port: number }).port
const token = await new SignJWT({ role: 'operator' }).setProtectedHeader({ alg: 'ES256', kid: 'bench' })
  .setSubject('bench').setIssuer('https://issuer.bench').setAudience('opendcre').setIssuedAt().setExpirationTime('2h').sign(privateKey)

// mutual TLS: a CA, a server certificate for 127.0.0.1 and a client certificate it signed
makeCertificates(dir)

const servers = {
  open: await startShipped(file('logs-open')),
  basic: await startShipped(file('logs-basic'), ['--users', file('users.json')]),
  jwt: await startShipped(file('logs-jwt'), ['--jwks-url', `http://127.0.0.1:${jwksPort}/jwks`, '--jwt-issuer', 'https://issuer.bench', '--jwt-audience', 'opendcre']),
  mtls: await startShipped(file('logs-mtls'), ['--tls-cert', file('server.crt'), '--tls-key', file('server.key'), '--tls-ca', file('ca.crt')])
}
const tlsOptions = { cert: readFileSync(file('client.crt')), key: readFileSync(file('client.key')), ca: readFileSync(file('ca.crt')) }

interface Case { name: string, config: keyof typeof servers, path: string, headers?: Record<string, string>, tls?: boolean }
const paths = ['/test', '/read/temperature/00000001/2000']
const cases: Case[] = paths.flatMap((path) => [
  { name: `open ${path}`, config: 'open' as const, path },
  { name: `Basic ${path}`, config: 'basic' as const, path, headers: { authorization: basicHeader } },
  { name: `JWT ${path}`, config: 'jwt' as const, path, headers: { authorization: `Bearer ${token}` } },
  { name: `mTLS ${path}`, config: 'mtls' as const, path, tls: true }
])
const url = (c: Case): string => `${c.tls === true ? 'https' : 'http'}://127.0.0.1:${servers[c.config].port}/opendcre/1.2${c.path}`
const run = async (c: Case, seconds: number): Promise<Sample> =>
  await load(url(c), { seconds, connections, pid: servers[c.config].child.pid, headers: c.headers, tlsOptions: c.tls === true ? tlsOptions : undefined })

for (const c of cases) {
  const warm = await run(c, 1)
  if (warm.non2xx > 0 || warm.errors > 0) throw new Error(`${c.name}: ${warm.non2xx} non-2xx, ${warm.errors} errors in the warm-up (credentials refused?)`)
}

const samples = new Map<string, Sample[]>(cases.map((c) => [c.name, []]))
const ratios = new Map<string, number[]>(cases.map((c) => [c.name, []]))
for (let round = 0; round < rounds; round++) {
  for (const path of paths) {
    let baseline = 0
    for (const c of cases.filter((x) => x.path === path)) {
      const sample = await run(c, duration)
      if (c.config === 'open') baseline = sample.rps
      samples.get(c.name)!.push(sample)
      ratios.get(c.name)!.push(sample.rps / baseline)
    }
  }
}

for (const server of Object.values(servers)) await stop(server)
jwks.close()
rmSync(dir, { recursive: true, force: true })

const fmt = (n: number, digits = 0): string => n.toFixed(digits)
const lines = [
  `node ${process.version}, ${connections} connections, ${rounds} rounds x ${duration} s per case, medians; ratios against the open configuration in the same round`,
  '',
  '| case | req/s | vs open | server CPU µs/request | p50 ms | p99 ms | errors | non-2xx |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...cases.map((c) => {
    const s = samples.get(c.name)!
    const sum = (k: 'errors' | 'non2xx'): number => s.reduce((a, x) => a + x[k], 0)
    return `| ${c.name} | ${fmt(median(s.map((x) => x.rps)))} | ${fmt(median(ratios.get(c.name)!) * 100)} % | ${fmt(median(s.map((x) => x.cpuUs)))} | ` +
      `${fmt(median(s.map((x) => x.p50)), 1)} | ${fmt(median(s.map((x) => x.p99)), 1)} | ${sum('errors')} | ${sum('non2xx')} |`
  })
]
process.stdout.write(lines.join('\n') + '\n')
