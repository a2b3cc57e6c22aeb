import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createBasicProvider } from '../../auth/basic.js'
import { VerificationCache } from '../../auth/verification-cache.js'
import { ACCESS_LOG, AUDIT_LOG, ERROR_LOG } from '../../server.js'
import { exited, serveCli } from '../cli-process.js'
import { build, PREFIX } from '../helper.js'
import { checkRoleMatrix } from './role-matrix.js'
import { basic, userAdd } from './users.js'

/**
 * HTTP Basic against a users file that `opendcre user add` (the built CLI, a
 * real process, the password on standard input) writes.
 */
const dir = mkdtempSync(join(tmpdir(), 'opendcre-basic-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const users = join(dir, 'users.json')
const VIEWER_PW = 'correct horse viewer'
const OPERATOR_PW = 'battery staple öperator'

const BASIC_CHALLENGE = /Basic realm="opendcre"/

t.before(async () => {
  for (const [name, role, pw] of [['alice', 'viewer', VIEWER_PW], ['bob', 'operator', OPERATOR_PW]]) {
    const r = await userAdd(users, name, role, `${pw}\n`)
    if (r.code !== 0) throw new Error(`user add ${name}: ${r.stderr}`)
  }
})

t.test('opendcre user add: scrypt hashes in a 0600 file, never the password', async (t) => {
  t.equal(statSync(users).mode & 0o777, 0o600, 'created with mode 0600')
  const text = readFileSync(users, 'utf8')
  t.notMatch(text, VIEWER_PW)
  t.notMatch(text, OPERATOR_PW)
  const file = JSON.parse(text)
  t.match(file.users, [{ name: 'alice', role: 'viewer', hash: /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/ }, { name: 'bob', role: 'operator' }])
  t.not(file.users[0].hash.split('$')[4], file.users[1].hash.split('$')[4], 'a salt of its own per user')

  const other = join(dir, 'other.json')
  let r = await userAdd(other, 'carol', 'viewer', 'first-password\n')
  t.equal(r.code, 0)
  t.equal(r.stdout, `added user 'carol' (viewer) in ${other} (created, mode 0600)\n`)
  r = await userAdd(other, 'carol', 'operator', 'second-password\r\nignored second line\n')
  t.equal(r.code, 0)
  t.equal(r.stdout, `replaced user 'carol' (operator) in ${other}\n`, 'the same name replaces the entry')
  t.notMatch(r.stdout + r.stderr, /password/, 'the password is never printed')
  const entries = JSON.parse(readFileSync(other, 'utf8')).users
  t.equal(entries.length, 1)
  const app = await build(t, { usersFile: other })
  t.equal((await app.inject({ url: `${PREFIX}/power/00000001/000d/on`, headers: basic('carol', 'second-password') })).statusCode, 200, 'the new password and role hold')
  t.equal((await app.inject({ url: `${PREFIX}/test`, headers: basic('carol', 'first-password') })).statusCode, 401, 'the old password no longer does')

  r = await userAdd(other, 'dave', 'viewer', '\n')
  t.equal(r.code, 1)
  t.match(r.stderr, 'empty password on standard input: refused')
  r = await userAdd(other, 'dave', 'viewer', '')
  t.equal(r.code, 1, 'no line at all is refused too')
  r = await userAdd(other, 'dave', 'admin', 'pw\n')
  t.equal(r.code, 1)
  t.match(r.stderr, "--role: 'admin' is not one of viewer, operator")
  r = await userAdd(other, 'da:ve', 'viewer', 'pw\n')
  t.equal(r.code, 1)
  t.match(r.stderr, "command line: name: 'da:ve' must be")
  t.equal(JSON.parse(readFileSync(other, 'utf8')).users.length, 1, 'refusals leave the file as it was')
})

t.test('the role matrix over Basic', async (t) => {
  const app = await build(t, { usersFile: users })
  await checkRoleMatrix(t, app, {
    viewer: basic('alice', VIEWER_PW),
    operator: basic('bob', OPERATOR_PW),
    wrong: [basic('bob', VIEWER_PW), basic('mallory', OPERATOR_PW), { authorization: 'Basic bm9jb2xvbg==' }]
  }, { challenge: BASIC_CHALLENGE })
})

t.test('malformed and foreign Authorization headers: 401 with the challenge, never 500', async (t) => {
  const app = await build(t, { usersFile: users })
  const cases: Array<[string, string, string]> = [
    ['no colon', `Basic ${Buffer.from('alice').toString('base64')}`, 'authentication failed'],
    ['bad base64', 'Basic !!!notbase64***', 'authentication failed'],
    ['base64 of the wrong length', 'Basic YWxpY2U6cGF', 'authentication failed'],
    ['empty credentials', 'Basic ', 'authentication failed'],
    ['the scheme alone', 'Basic', 'authentication required'],
    ['a huge header', `Basic ${'A'.repeat(20_000)}`, 'authentication failed'],
    ['an unknown scheme', 'Digest username="alice"', 'authentication required'],
    ['a bearer token when only Basic is configured', 'Bearer abc.def.ghi', 'authentication required'],
    ['binary garbage', `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x00, 0x80]).toString('base64')}`, 'authentication failed']
  ]
  for (const [name, authorization, message] of cases) {
    const started = Date.now()
    const res = await app.inject({ url: `${PREFIX}/power/00000001/000d/on`, headers: { authorization } })
    t.equal(res.statusCode, 401, name)
    t.same(res.json(), { message }, `${name}: the API's {"message"}`)
    t.match(res.headers['www-authenticate'], BASIC_CHALLENGE, `${name}: the challenge`)
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    if (name === 'a huge header') t.ok(Date.now() - started < 1000, 'a huge header is refused before any hashing')
  }
  const lower = await app.inject({ url: `${PREFIX}/test`, headers: { authorization: basic('alice', VIEWER_PW).authorization.replace('Basic', 'basic') } })
  t.equal(lower.statusCode, 200, 'the scheme is case-insensitive (RFC 7235)')
  const colonInPassword = join(dir, 'colon.json')
  t.equal((await userAdd(colonInPassword, 'erin', 'viewer', 'pass:with:colons\n')).code, 0)
  const colonApp = await build(t, { usersFile: colonInPassword })
  t.equal((await colonApp.inject({ url: `${PREFIX}/test`, headers: basic('erin', 'pass:with:colons') })).statusCode, 200, 'a password may hold colons (split at the first)')
})

t.test('a successful verification is cached: scrypt runs once per client, failures every time', async (t) => {
  const app = await build(t, { usersFile: users })
  const verifications = async (): Promise<number> => {
    const res = await app.inject({ url: '/metrics', headers: basic('bob', OPERATOR_PW) })
    const line = res.body.split('\n').find((l) => l.startsWith('opendcre_auth_verifications_total{provider="basic"}'))
    return Number(line?.split(' ')[1])
  }
  t.equal(await verifications(), 1, 'the scrape itself was the first verification')
  for (let i = 0; i < 5; i++) await app.inject({ url: `${PREFIX}/test`, headers: basic('bob', OPERATOR_PW) })
  t.equal(await verifications(), 1, 'the next requests of the same client cost no scrypt')
  await Promise.all([1, 2, 3].map(async () => await app.inject({ url: `${PREFIX}/test`, headers: basic('alice', VIEWER_PW) })))
  t.equal(await verifications(), 2, 'concurrent first requests with the same header share one verification')
  for (let i = 0; i < 2; i++) await app.inject({ url: `${PREFIX}/test`, headers: basic('alice', 'guess') })
  t.equal(await verifications(), 4, 'failures are never cached')
  const metrics = (await app.inject({ url: '/metrics', headers: basic('bob', OPERATOR_PW) })).body
  t.match(metrics, /opendcre_auth_requests_total\{provider="basic",result="failed"\} 2/)
  t.match(metrics, /opendcre_auth_requests_total\{provider="basic",result="ok"\} \d+/)

  // the cache forgets after its TTL: an injected clock
  let now = 1_000_000
  const provider = createBasicProvider({ usersFile: users }, { now: () => now, cacheTtlMs: 60_000, cacheMax: 2 })
  const clocked = await build(t, { usersFile: users, authProviders: [provider] })
  const ask = async (user: string, pw: string): Promise<number> => (await clocked.inject({ url: `${PREFIX}/test`, headers: basic(user, pw) })).statusCode
  t.equal(await ask('bob', OPERATOR_PW), 200)
  now += 59_000
  t.equal(await ask('bob', OPERATOR_PW), 200)
  t.equal(provider.stats.verifications, 1, 'within the TTL: cached')
  now += 2_000
  t.equal(await ask('bob', OPERATOR_PW), 200)
  t.equal(provider.stats.verifications, 2, 'past the TTL: verified again')
  await ask('alice', VIEWER_PW)
  await ask('alice', VIEWER_PW.toUpperCase()) // a failure takes no room
  t.equal(provider.stats.verifications, 4)
  t.equal(await ask('bob', OPERATOR_PW), 200)
  t.equal(await ask('alice', VIEWER_PW), 200)
  t.equal(provider.stats.verifications, 4, 'two entries fit')
  t.equal(await ask('alice', `${VIEWER_PW} `), 401)
  t.equal(provider.stats.verifications, 5)
})

t.test('the verification cache is bounded: the oldest entry goes first', async (t) => {
  const cache = new VerificationCache<string>(2)
  cache.set('a', 'A', 100)
  cache.set('b', 'B', 100)
  cache.set('c', 'C', 100)
  t.equal(cache.size, 2)
  t.equal(cache.get('a', 0), undefined, 'the oldest was dropped')
  t.equal(cache.get('c', 0), 'C')
  t.equal(cache.get('b', 100), undefined, 'expired at its time')
  t.equal(cache.size, 1, 'an expired entry is removed when met')
  const none = new VerificationCache<string>(0)
  none.set('a', 'A', 100)
  t.equal(none.get('a', 0), undefined, 'max 0 remembers nothing')
})

t.test('an unknown user costs a scrypt as a known one does (no user enumeration by timing)', async (t) => {
  const provider = createBasicProvider({ usersFile: users })
  const app = await build(t, { usersFile: users, authProviders: [provider] })
  await app.inject({ url: `${PREFIX}/test`, headers: basic('nobody-here', 'x') })
  t.equal(provider.stats.verifications, 1, 'the unknown user was hashed')
  const time = async (user: string): Promise<number> => {
    const started = process.hrtime.bigint()
    await app.inject({ url: `${PREFIX}/test`, headers: basic(user, `wrong-${Math.random()}`) })
    return Number(process.hrtime.bigint() - started) / 1e6
  }
  const known = Math.min(await time('alice'), await time('alice'), await time('alice'))
  const unknown = Math.min(await time('zed'), await time('zed'), await time('zed'))
  t.ok(unknown > known / 3 && unknown < known * 3, `same order of time: known ${known.toFixed(1)} ms, unknown ${unknown.toFixed(1)} ms`)
})

t.test('the audit log names the authenticated user; refusals are audited too', async (t) => {
  const audit = join(dir, 'audit.log')
  const app = await build(t, { usersFile: users, auditLog: audit })
  t.equal((await app.inject({ url: `${PREFIX}/power/00000001/000d/on`, headers: basic('bob', OPERATOR_PW) })).statusCode, 200)
  t.equal((await app.inject({ url: `${PREFIX}/power/00000001/000d/off`, headers: basic('alice', VIEWER_PW) })).statusCode, 403)
  t.equal((await app.inject({ method: 'POST', url: `${PREFIX}/fan/00000002/0002/3000` })).statusCode, 401)
  t.equal((await app.inject({ url: `${PREFIX}/power/00000001/000d`, headers: basic('alice', VIEWER_PW) })).statusCode, 200)
  await app.close()
  const lines = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  t.match(lines, [
    { identity: 'bob', command: 'power on', result: 'ok', status: 200 },
    { identity: 'alice', command: 'power off', result: 'failed', status: 403 },
    { identity: 'anonymous', command: 'fan 3000', result: 'failed', status: 401 }
  ])
  t.equal(lines.length, 3, 'reads are not audited')
})

t.test('users file errors stop startup naming the file, the field and the reason', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['plain.json', { users: [{ name: 'a', role: 'viewer', password: 'secret' }] }, /plain\.json: users\[0\]/],
    ['role.json', { users: [{ name: 'a', role: 'admin', hash: 'scrypt$16384$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==' }] }, /role\.json: users\[0\]\.role: must be one of viewer, operator/],
    ['hash.json', { users: [{ name: 'a', role: 'viewer', hash: 'hunter2' }] }, /hash\.json: users\[0\]\.hash: must be scrypt\$N\$r\$p\$salt\$key/],
    ['cost.json', { users: [{ name: 'a', role: 'viewer', hash: 'scrypt$1000$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==' }] }, /cost\.json: users\[0\]\.hash: scrypt parameters out of range/],
    ['dup.json', { users: [{ name: 'a', role: 'viewer', hash: 'scrypt$16384$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==' }, { name: 'a', role: 'operator', hash: 'scrypt$16384$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==' }] }, /dup\.json: users\[1\]\.name: duplicate user 'a'/],
    ['array.json', [], /array\.json: must be a JSON object/]
  ]
  for (const [name, content, message] of cases) {
    const file = join(dir, name)
    writeFileSync(file, JSON.stringify(content))
    await t.rejects(build(t, { usersFile: file }), message, name)
  }
  writeFileSync(join(dir, 'broken.json'), '{"users": [')
  await t.rejects(build(t, { usersFile: join(dir, 'broken.json') }), /broken\.json: invalid JSON/)
  await t.rejects(build(t, { usersFile: join(dir, 'missing.json') }), /missing\.json: cannot read file \(ENOENT\)/)
  t.notMatch(String(await build(t, { usersFile: join(dir, 'plain.json') }).catch((e: Error) => e.message)), /secret/, 'the plaintext is not echoed')
})

t.test('logs never hold the password or the Authorization header; the startup line names the provider', async (t) => {
  const logs = join(dir, 'logs')
  const { child, url } = await serveCli(['--users', users, '--log-dir', logs, '--log-level', 'debug'])
  t.teardown(() => { child.kill('SIGKILL') })
  const good = basic('bob', OPERATOR_PW)
  const bad = basic('alice', 'a-wrong-password-to-log')
  t.equal((await fetch(`${url}${PREFIX}/power/00000001/000d/on`, { headers: good })).status, 200)
  t.equal((await fetch(`${url}${PREFIX}/power/00000001/000d/on`, { headers: bad })).status, 401)
  t.equal((await fetch(`${url}${PREFIX}/power/00000001/000d/on`, { headers: basic('alice', VIEWER_PW) })).status, 403)
  t.equal((await fetch(`${url}${PREFIX}/health`)).status, 200, 'health answers without credentials')
  const exit = exited(child)
  child.kill('SIGTERM')
  t.equal(await exit, 0)

  const access = readFileSync(join(logs, ACCESS_LOG), 'utf8')
  const all = access + readFileSync(join(logs, ERROR_LOG), 'utf8') + readFileSync(join(logs, AUDIT_LOG), 'utf8')
  for (const secret of [OPERATOR_PW, VIEWER_PW, 'a-wrong-password-to-log', good.authorization.slice(6), bad.authorization.slice(6)]) {
    t.notOk(all.includes(secret), `no ${secret.slice(0, 8)}... in the logs`)
  }
  const lines = access.trim().split('\n').map((l) => JSON.parse(l))
  const started = lines.find((l) => l.msg === 'OpenDCRE started')
  t.same(started.auth, { basic: { users_file: users } })
  t.match(lines.find((l) => l.msg === 'authentication failed'), { level: 40, auth: { providers: ['basic'], reasons: ["Basic: wrong password for user 'alice'"] } })
  t.match(lines.find((l) => l.msg === 'state change refused to a viewer'), { auth: { identity: 'alice', role: 'viewer', command: 'power on' } })
  const errors = readFileSync(join(logs, ERROR_LOG), 'utf8')
  t.match(errors, 'authentication failed', 'failed authentications reach the error log')
})
