import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { addUser } from '../../auth/users-file.js'
import { build, PREFIX } from '../helper.js'
import { checkRoleMatrix } from './role-matrix.js'
import { OPERATORS, PEOPLE, SERVICE, startSlapd, UNIQUE_VIEWERS, USERS, VIEWERS, type SeedUser } from './slapd.js'

/**
 * The role matrix (issue 5 §3) through the real app configured for LDAP the
 * way the command line configures it (--ldap-url, --ldap-user-dn or
 * --ldap-search-base/--ldap-search-filter/--ldap-bind-dn, the groups), against
 * a real slapd; then what the matrix does not cover: a user in no group, the
 * directory down, the audit log's identity.
 */

const CHALLENGE = /Basic realm="opendcre"/

function basic (user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}` }
}
const as = (user: SeedUser): Record<string, string> => basic(user.uid, user.password)

const groups = { ldapViewerGroups: [VIEWERS, UNIQUE_VIEWERS], ldapOperatorGroups: [OPERATORS] }
const u = USERS

t.test('direct bind: the role matrix', async (t) => {
  const slapd = await startSlapd(t)
  const app = await build(t, { ldapUrl: slapd.url, ldapUserDn: `uid={user},${PEOPLE}`, ...groups })
  await checkRoleMatrix(t, app, {
    viewer: as(u.bob),
    operator: as(u.alice),
    wrong: [basic(u.alice.uid, 'wrong'), basic('nobody', 'whatever'), basic(u.alice.uid, ''), basic('al*', u.alice.password)]
  }, { challenge: CHALLENGE })
})

t.test('search-then-bind: the role matrix', async (t) => {
  const slapd = await startSlapd(t)
  const app = await build(t, {
    ldapUrl: slapd.url,
    ldapSearchBase: PEOPLE,
    ldapSearchFilter: '(&(objectClass=inetOrgPerson)(uid={user}))',
    ldapBindDn: SERVICE.dn,
    ldapBindPassword: SERVICE.password,
    ...groups
  })
  await checkRoleMatrix(t, app, {
    viewer: as(u.frank), // through the groupOfUniqueNames
    operator: as(u.dave), // found below ou=contractors
    wrong: [basic(u.dave.uid, 'wrong'), basic('*', u.dave.password), basic(u.dave.uid, ''), basic(`${u.dave.uid})(uid=*`, u.dave.password)]
  }, { challenge: CHALLENGE })
})

t.test('no group, the directory down, the audit log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-ldap-audit-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const auditLog = join(dir, 'audit.log')
  const slapd = await startSlapd(t)
  const app = await build(t, { ldapUrl: slapd.url, ldapUserDn: `uid={user},${PEOPLE}`, ...groups, auditLog })
  const send = async (path: string, headers: Record<string, string>): Promise<{ status: number, headers: Record<string, unknown>, body: string }> => {
    const res = await app.inject({ method: 'GET', url: `${PREFIX}${path}`, headers })
    return { status: res.statusCode, headers: res.headers, body: res.body }
  }

  const carol = await send('/scan', as(u.carol))
  t.equal(carol.status, 403, 'right password, no group: 403 even for a read')
  t.match(JSON.parse(carol.body), { message: /forbidden/ })

  t.equal((await send('/power/00000001/000d/on', as(u.oneil))).status, 403, 'a viewer whose name needs DN escaping: 403 on a change')
  t.equal((await send('/power/00000001/000d/on', as(u.alice))).status, 200, 'an operator')
  t.equal((await send('/led/00000002/0005/on', basic('ALICE', u.alice.password))).status, 200, 'the same operator, spelt otherwise')

  await slapd.stop()
  const down = await send('/power/00000001/000d/off', as(u.bob))
  t.equal(down.status, 401, 'directory down: 401')
  t.match(String(down.headers['www-authenticate']), CHALLENGE)
  t.notMatch(down.body, u.bob.password, 'the answer does not echo the password')
  t.equal((await send('/power/00000001/000d/off', as(u.alice))).status, 200, 'alice verified a moment ago: still served from the cache')
  await slapd.restart()
  t.equal((await send('/power/00000001/000d/off', as(u.bob))).status, 403, 'back: bob is a viewer again')

  await app.close()
  const lines = readFileSync(auditLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.same(lines.map((l) => [l.identity, l.command, l.status]), [
    ["o'neil, jr", 'power on', 403],
    ['alice', 'power on', 200],
    ['alice', 'led on', 200], // the directory's spelling, not the request's "ALICE"
    ['anonymous', 'power off', 401],
    ['alice', 'power off', 200],
    ['bob', 'power off', 403]
  ], 'every attempted change, with the identity LDAP vouched for')
  t.notMatch(readFileSync(auditLog, 'utf8'), /pw/, 'no password in the audit log')
})

t.test('with the users file too: each provider vouches for its own users', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-ldap-users-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const usersFile = join(dir, 'users.json')
  await addUser(usersFile, 'local-op', 'operator', 'local-pw')
  await addUser(usersFile, 'bob', 'operator', 'bob-local-pw') // bob again, with another password and role
  const slapd = await startSlapd(t)
  const app = await build(t, { usersFile, ldapUrl: slapd.url, ldapUserDn: `uid={user},${PEOPLE}`, ...groups })
  const status = async (headers: Record<string, string>): Promise<number> =>
    (await app.inject({ method: 'GET', url: `${PREFIX}/power/00000001/000d/on`, headers })).statusCode

  t.equal(await status(basic('local-op', 'local-pw')), 200, 'a users-file operator')
  t.equal(await status(as(u.alice)), 200, 'an LDAP operator: the users file does not know her, LDAP does')
  t.equal(await status(as(u.bob)), 403, 'bob with his directory password: the LDAP viewer')
  t.equal(await status(basic('bob', 'bob-local-pw')), 200, 'bob with his users-file password: the local operator')
  t.equal(await status(basic('local-op', 'wrong')), 401, 'wrong for both')
  const none = await app.inject({ method: 'GET', url: `${PREFIX}/power/00000001/000d/on` })
  t.equal(none.statusCode, 401)
  t.equal((String(none.headers['www-authenticate']).match(/Basic/g) ?? []).length, 1, 'one Basic challenge for both providers')
})
