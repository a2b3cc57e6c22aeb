import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { hashPassword } from '../../auth/users-file.js'
import { build } from '../helper.js'
import { expectedChangeOf } from '../routes/command-routes.js'
import { checkRoleMatrix, type Sent } from './role-matrix.js'
import { basic } from './users.js'

/**
 * The role check and the audit log do not depend on endpoint_prefix (issue
 * 10: with endpoint_prefix /dcre/ a viewer could power a board off and
 * nothing was audited, because both matched the URL against /opendcre/).
 * The full role matrix and its audit lines, under the default prefix, a
 * short one and a nested one, each with and without the trailing slash.
 */
const dir = mkdtempSync(join(tmpdir(), 'opendcre-prefixes-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const users = join(dir, 'users.json')
const VIEWER = { name: 'vera', password: 'prefix-Viewer-1' }
const OPERATOR = { name: 'otto', password: 'prefix-Operator-2' }

// a cheap scrypt cost (the file carries it per hash): every wrong password costs a full
// verification, and the matrix sends many under each prefix; basic.test.ts uses the real cost
const CHEAP = { N: 1024, r: 8, p: 1 }

t.before(async () => {
  writeFileSync(users, JSON.stringify({
    users: [
      { name: VIEWER.name, role: 'viewer', hash: await hashPassword(VIEWER.password, CHEAP) },
      { name: OPERATOR.name, role: 'operator', hash: await hashPassword(OPERATOR.password, CHEAP) }
    ]
  }), { mode: 0o600 })
})

/** An opendcre_config.json naming this endpoint_prefix (undefined: the key left out, the default). */
function configWith (name: string, prefix: string | undefined): string {
  const file = join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify(prefix === undefined ? {} : { endpoint_prefix: prefix }))
  return file
}

interface AuditLine { time: string, identity: string, client: string, method: string, command: string, board: string, device: string, result: string, status: number }

function auditLines (file: string): AuditLine[] {
  const text = readFileSync(file, 'utf8').trim()
  return text === '' ? [] : text.split('\n').map((l) => JSON.parse(l) as AuditLine)
}

const IDENTITY = { none: 'anonymous', wrong: 'anonymous', viewer: VIEWER.name, operator: OPERATOR.name }

const PREFIXES: Array<{ name: string, prefix: string | undefined, base: string }> = [
  { name: 'default', prefix: undefined, base: '/opendcre/1.2' },
  { name: 'dcre-slash', prefix: '/dcre/', base: '/dcre/1.2' },
  { name: 'dcre', prefix: '/dcre', base: '/dcre/1.2' },
  { name: 'nested-slash', prefix: '/api/dc/', base: '/api/dc/1.2' },
  { name: 'nested', prefix: '/api/dc', base: '/api/dc/1.2' }
]

for (const { name, prefix, base } of PREFIXES.filter((p) => process.env.ONLY_PREFIX === undefined || p.name === process.env.ONLY_PREFIX)) {
  t.test(`endpoint_prefix ${prefix ?? '(default)'}: the role matrix and its audit lines under ${base}`, async (t) => {
    const auditLog = join(dir, `${name}-audit.log`)
    const app = await build(t, { config: configWith(name, prefix), usersFile: users, auditLog })
    t.equal((await app.inject({ url: `${base}/test`, headers: basic(VIEWER.name, VIEWER.password) })).statusCode, 200, `the API is served under ${base}`)
    if (base !== '/opendcre/1.2') {
      t.equal((await app.inject({ url: '/opendcre/1.2/test', headers: basic(VIEWER.name, VIEWER.password) })).statusCode, 404, 'and not under the default')
    }
    const sent: Sent[] = await checkRoleMatrix(t, app, {
      viewer: basic(VIEWER.name, VIEWER.password),
      operator: basic(OPERATOR.name, OPERATOR.password),
      // a wrong password and a header without one (an unknown user costs a full-cost
      // scrypt against the dummy hash: basic.test.ts tries it, under the default prefix)
      wrong: [basic(OPERATOR.name, VIEWER.password), { authorization: 'Basic bm9jb2xvbg==' }]
    }, { challenge: /Basic realm="opendcre"/, base })
    await app.close()

    // one line per request for a state change, whoever asked and however it was answered; none for reads
    const expected = sent.flatMap((s) => {
      const change = expectedChangeOf(s.path)
      // HEAD is refused before credentials are looked at: its line says anonymous
      const identity = s.method === 'HEAD' ? 'anonymous' : IDENTITY[s.who]
      return change === undefined ? [] : [{ method: s.method, identity, status: s.status, result: s.status < 400 ? 'ok' : 'failed', ...change }]
    })
    const lines = auditLines(auditLog)
    t.ok(expected.length > 100, `${expected.length} state-change requests were made`)
    t.equal(lines.length, expected.length, 'one audit line per state-change request, none for reads')
    t.same(lines.map(({ method, identity, status, result, command, board, device }) => ({ method, identity, status, result, command, board, device })), expected, 'each line says who, how, what and the answer')
    t.ok(lines.every((l) => l.client === '127.0.0.1' && !Number.isNaN(Date.parse(l.time))), 'with the client address and the time')
  })
}

t.test('the bypass of issue 10 is gone: under /dcre/ a viewer is refused power and led, and each refusal is audited', async (t) => {
  const auditLog = join(dir, 'bypass-audit.log')
  const app = await build(t, { config: configWith('bypass', '/dcre/'), usersFile: users, auditLog })
  const viewer = basic(VIEWER.name, VIEWER.password)
  const power = await app.inject({ url: '/dcre/1.2/power/00000001/000d/on', headers: viewer })
  t.equal(power.statusCode, 403)
  t.same(power.json(), { message: 'forbidden: the viewer role cannot change state (power on); an operator can' })
  const led = await app.inject({ url: '/dcre/1.2/led/00000001/0005/on', headers: viewer })
  t.equal(led.statusCode, 403)
  const before = (await app.inject({ url: '/dcre/1.2/power/00000001/000d', headers: viewer })).json()
  const off = await app.inject({ method: 'POST', url: '/dcre/1.2/power/off/00000001/000d', headers: viewer })
  t.equal(off.statusCode, 403, 'the deprecated order too')
  const head = await app.inject({ method: 'HEAD', url: '/dcre/1.2/power/00000001/000d/off', headers: viewer })
  t.equal(head.statusCode, 405, 'and HEAD')
  t.same((await app.inject({ url: '/dcre/1.2/power/00000001/000d', headers: viewer })).json(), before, 'the power state is as it was')
  await app.close()
  const lines = auditLines(auditLog)
  t.match(lines, [
    { identity: VIEWER.name, method: 'GET', command: 'power on', board: '00000001', device: '000d', result: 'failed', status: 403 },
    { identity: VIEWER.name, method: 'GET', command: 'led on', board: '00000001', device: '0005', result: 'failed', status: 403 },
    { identity: VIEWER.name, method: 'POST', command: 'power off', board: '00000001', device: '000d', result: 'failed', status: 403 },
    { identity: 'anonymous', method: 'HEAD', command: 'power off', board: '00000001', device: '000d', result: 'failed', status: 405 }
  ])
  t.equal(lines.length, 4, 'the reads are not audited')
})
