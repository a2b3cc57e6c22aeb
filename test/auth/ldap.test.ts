import type { FastifyRequest } from 'fastify'
import t from 'tap'
import {
  createLdapProvider, escapeDnValue, escapeFilterValue, normalizeDn, LDAP_UNAVAILABLE, NOT_IN_GROUP,
  type LdapProvider, type LdapProviderDeps
} from '../../auth/ldap.js'
import type { AuthProvider, AuthResult, LdapOptions } from '../../auth/provider.js'
import { OPERATORS, PEOPLE, SERVICE, startSlapd, UNIQUE_VIEWERS, USERS, VIEWERS, type SeedUser } from './slapd.js'

/**
 * The LDAP provider against a real slapd (test/auth/slapd.ts), asked directly
 * with request-like objects: direct bind and search-then-bind, group → role,
 * escaping, the unauthenticated-bind trap, outages, and the success cache.
 */

const GROUPS = { operator: [OPERATORS], viewer: [VIEWERS, UNIQUE_VIEWERS] }
const TIMEOUT_MS = 600

function request (authorization?: string): FastifyRequest {
  return { headers: authorization === undefined ? {} : { authorization } } as unknown as FastifyRequest
}

function basic (user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`
}

async function ask (provider: AuthProvider, user: string, password: string): Promise<AuthResult> {
  return await provider.authenticate(request(basic(user, password)))
}

function direct (url: string, extra: Partial<LdapOptions> = {}, deps?: LdapProviderDeps): LdapProvider {
  return createLdapProvider({ url, userDnTemplate: `uid={user},${PEOPLE}`, groups: GROUPS, timeoutMs: TIMEOUT_MS, ...extra }, deps)
}

function searching (url: string, extra: Partial<LdapOptions> = {}, deps?: LdapProviderDeps): LdapProvider {
  return createLdapProvider({
    url,
    searchBase: PEOPLE,
    searchFilter: '(&(objectClass=inetOrgPerson)(uid={user}))',
    bindDn: SERVICE.dn,
    bindPassword: SERVICE.password,
    groups: GROUPS,
    timeoutMs: TIMEOUT_MS,
    ...extra
  }, deps)
}

function identity (user: SeedUser, role: 'viewer' | 'operator'): AuthResult {
  return { name: user.uid, role, provider: 'ldap' }
}

function isFailed (result: AuthResult): result is { failed: string } {
  return result !== undefined && 'failed' in result
}

/** A port nothing listens on (a stopped slapd's). */
async function deadUrl (t: Parameters<typeof startSlapd>[0]): Promise<string> {
  const slapd = await startSlapd(t)
  await slapd.stop()
  return slapd.url
}

t.test('escaping and DN comparison', async (t) => {
  const dn: Array<[string, string]> = [
    ['alice', 'alice'],
    ["o'neil, jr", "o'neil\\, jr"],
    ['a+b;c<d>e"f\\g=h', 'a\\+b\\;c\\<d\\>e\\"f\\\\g\\=h'],
    ['#hash', '\\#hash'],
    [' lead and trail ', '\\ lead and trail\\ '],
    ['mid#dle sp', 'mid#dle sp'],
    ['nul\0', 'nul\\00'],
    ['tab\t', 'tab\\09'],
    ['ünï', 'ünï']
  ]
  for (const [input, expected] of dn) t.equal(escapeDnValue(input), expected, `DN value ${JSON.stringify(input)}`)
  const filter: Array<[string, string]> = [
    ['alice', 'alice'],
    ['a*b', 'a\\2ab'],
    [')(uid=*', '\\29\\28uid=\\2a'],
    ['back\\slash', 'back\\5cslash'],
    ['nul\0', 'nul\\00'],
    ["o'neil, jr", "o'neil, jr"]
  ]
  for (const [input, expected] of filter) t.equal(escapeFilterValue(input), expected, `filter value ${JSON.stringify(input)}`)
  t.equal(normalizeDn('CN=OpenDCRE-Operators, OU=Groups,DC=Example,DC=org'), normalizeDn(OPERATORS), 'case and spaces')
  t.equal(normalizeDn("uid=o'neil\\2C jr,ou=people,dc=example,dc=org"), normalizeDn("uid=o'neil\\, jr,ou=people,dc=example,dc=org"), 'hex and backslash escapes')
  t.equal(normalizeDn('cn=a+sn=b,dc=x'), normalizeDn('sn=b+cn=a,dc=x'), 'multi-valued RDN order')
  t.not(normalizeDn('cn=opendcre-operators,ou=groups,dc=example,dc=org'), normalizeDn('cn=opendcre-operators\\,ou=groups,dc=example,dc=org'), 'an escaped comma is not a separator')
  t.not(normalizeDn(OPERATORS), normalizeDn(VIEWERS))
})

t.test('configuration mistakes are refused at creation', async (t) => {
  const url = 'ldap://127.0.0.1:1'
  t.throws(() => createLdapProvider({ url, groups: GROUPS }), /either userDnTemplate/)
  t.throws(() => createLdapProvider({ url, userDnTemplate: `uid={user},${PEOPLE}`, searchBase: PEOPLE, searchFilter: '(uid={user})', groups: GROUPS }), /not both/)
  t.throws(() => createLdapProvider({ url, userDnTemplate: `uid=alice,${PEOPLE}`, groups: GROUPS }), /\{user\}/)
  t.throws(() => createLdapProvider({ url, searchBase: PEOPLE, groups: GROUPS }), /searchBase and searchFilter/)
  t.throws(() => createLdapProvider({ url, searchBase: PEOPLE, searchFilter: '(uid={user})', bindDn: SERVICE.dn, bindPassword: '', groups: GROUPS }), /non-empty bindPassword/)
  t.throws(() => createLdapProvider({ url, userDnTemplate: `uid={user},${PEOPLE}`, groups: {} }), /at least one group/)
  t.throws(() => createLdapProvider({ url: 'http://127.0.0.1', userDnTemplate: `uid={user},${PEOPLE}`, groups: GROUPS }), /ldap:\/\//)
  const provider = createLdapProvider({ url, userDnTemplate: `uid={user},${PEOPLE}`, groups: GROUPS })
  t.equal(provider.name, 'ldap')
  t.equal(provider.challenge, 'Basic realm="opendcre"')
})

t.test('not Basic credentials: undefined, so the next provider may look', async (t) => {
  const provider = direct(await deadUrl(t))
  t.equal(await provider.authenticate(request()), undefined, 'no Authorization header')
  t.equal(await provider.authenticate(request('Bearer eyJhbGciOiJIUzI1NiJ9.e30.x')), undefined, 'Bearer')
  t.equal(await provider.authenticate(request('Digest username="alice"')), undefined, 'Digest')
  t.same(await provider.authenticate(request('Basic !!!not-base64')), { failed: 'malformed Basic credentials' })
  t.same(await provider.authenticate(request(`Basic ${Buffer.from('no colon').toString('base64')}`)), { failed: 'malformed Basic credentials' })
  t.same(await provider.authenticate(request('Basic')), { failed: 'malformed Basic credentials' })
  t.same(await ask(provider, '', 'x'), { failed: 'empty user name refused' })
})

t.test('against a running slapd', async (t) => {
  const slapd = await startSlapd(t)
  const u = USERS

  t.test('direct bind: the user\'s groups give the role', async (t) => {
    const provider = direct(slapd.url)
    t.same(await ask(provider, u.alice.uid, u.alice.password), identity(u.alice, 'operator'), 'alice is in both groups: operator wins')
    t.same(await ask(provider, u.bob.uid, u.bob.password), identity(u.bob, 'viewer'), 'bob, whose password holds a colon')
    t.same(await ask(provider, u.frank.uid, u.frank.password), identity(u.frank, 'viewer'), 'frank: groupOfUniqueNames, a UTF-8 password')
    t.same(await ask(provider, u.oneil.uid, u.oneil.password), identity(u.oneil, 'viewer'), 'a comma in the name, escaped in the DN')
    t.same(await ask(provider, u.star.uid, u.star.password), identity(u.star, 'operator'), 'an asterisk in the name')
    t.same(await ask(provider, u.carol.uid, u.carol.password), { failed: NOT_IN_GROUP, forbidden: true, name: 'carol' }, 'carol binds but is in no group: refused, forbidden')
  })

  t.test('direct bind: wrong or unknown credentials fail', async (t) => {
    const provider = direct(slapd.url)
    for (const [user, password, what] of [
      [u.alice.uid, 'wrong', 'wrong password'],
      [u.alice.uid, u.bob.password, 'another user\'s password'],
      [u.alice.uid, `${u.alice.password} `, 'a trailing space is part of the password'],
      ['nobody', 'whatever', 'unknown user'],
      [u.dave.uid, u.dave.password, 'dave lives below the template\'s container']
    ]) {
      const result = await ask(provider, user, password)
      t.ok(isFailed(result), what)
      t.notMatch(JSON.stringify(result), password, `${what}: the reason does not carry the password`)
    }
  })

  t.test('search-then-bind with a service account', async (t) => {
    const provider = searching(slapd.url)
    t.same(await ask(provider, u.alice.uid, u.alice.password), identity(u.alice, 'operator'))
    t.same(await ask(provider, u.bob.uid, u.bob.password), identity(u.bob, 'viewer'))
    t.same(await ask(provider, u.dave.uid, u.dave.password), identity(u.dave, 'operator'), 'dave is found below ou=contractors')
    t.same(await ask(provider, u.oneil.uid, u.oneil.password), identity(u.oneil, 'viewer'))
    t.same(await ask(provider, u.star.uid, u.star.password), identity(u.star, 'operator'), 'the asterisk is matched literally')
    t.same(await ask(provider, u.frank.uid, u.frank.password), identity(u.frank, 'viewer'))
    t.same(await ask(provider, u.carol.uid, u.carol.password), { failed: NOT_IN_GROUP, forbidden: true, name: 'carol' })
    t.same(await ask(provider, u.alice.uid, 'wrong'), { failed: 'LDAP bind failed: invalid credentials' })
    t.same(await ask(provider, 'nobody', 'whatever'), { failed: 'LDAP user not found' })

    const wrongService = searching(slapd.url, { bindPassword: 'not-the-service-password' })
    t.same(await ask(wrongService, u.alice.uid, u.alice.password), { failed: 'LDAP service account bind failed' })

    const byCn = searching(slapd.url, { searchFilter: '(cn={user})' })
    t.same(await ask(byCn, 'Sam Smith', u.sam1.password), { failed: 'LDAP search found more than one entry for the user' }, 'two entries match: neither is chosen')
    t.same(await ask(byCn, 'Oneil Jr', u.oneil.password), { name: 'Oneil Jr', role: 'viewer', provider: 'ldap' }, 'one entry matches')
  })

  t.test('injection in the user name never authenticates as someone else', async (t) => {
    const filterAttacks = ['*', 'al*', 'a*', '*)(uid=*', ')(uid=*', 'alice)(|(uid=*', 'alice)(uid=alice', 'x)(|(uid=alice)', 'alice\\', 'alice\0']
    const dnAttacks = [
      'alice,ou=people,dc=example,dc=org', 'alice+uid=bob', 'uid=alice', '*', "o'neil", 'o\'neil\\, jr',
      `alice,${PEOPLE}\0`, '#alice'
    ]
    for (const [name, provider, attacks] of [
      ['search-then-bind', searching(slapd.url), filterAttacks],
      ['direct bind', direct(slapd.url), [...filterAttacks, ...dnAttacks]]
    ] as const) {
      for (const attack of attacks) {
        for (const victim of [u.alice, u.oneil]) {
          const result = await ask(provider, attack, victim.password)
          t.ok(isFailed(result), `${name}: ${JSON.stringify(attack)} with ${victim.uid}'s password fails (${JSON.stringify(result)})`)
        }
      }
    }
  })

  t.test('the directory\'s matching rules: the identity carries its spelling of the name', async (t) => {
    for (const provider of [direct(slapd.url), searching(slapd.url)]) {
      for (const spelling of ['ALICE', ' alice', 'Alice ']) {
        t.same(await ask(provider, spelling, u.alice.password), identity(u.alice, 'operator'), JSON.stringify(spelling))
      }
      t.same(await ask(provider, "O'NEIL,  JR", u.oneil.password), identity(u.oneil, 'viewer'))
    }
  })

  t.test('an empty password is refused before the directory is asked', async (t) => {
    const provider = direct(slapd.url)
    const before = (await slapd.binds()).length
    t.same(await ask(provider, u.alice.uid, ''), { failed: 'empty password refused' })
    t.same(await ask(searching(slapd.url), u.alice.uid, ''), { failed: 'empty password refused' })
    t.equal((await slapd.binds()).length, before, 'no bind reached slapd')
    t.same(await ask(direct(await deadUrl(t)), u.alice.uid, ''), { failed: 'empty password refused' }, 'the same answer with no directory at all')
  })

  t.test('one connection per authentication, unbound and closed', async (t) => {
    const provider = searching(slapd.url)
    const log = await slapd.log()
    const count = (text: string, pattern: RegExp): number => [...text.matchAll(pattern)].length
    const [accepts, unbinds, closes] = [count(log, / ACCEPT from /g), count(log, / UNBIND/g), count(log, / closed/g)]
    await ask(provider, u.bob.uid, u.bob.password)
    await ask(provider, u.bob.uid, 'wrong')
    await ask(provider, 'nobody', 'whatever')
    const after = await slapd.log()
    t.equal(count(after, / ACCEPT from /g) - accepts, 3, 'three connections')
    t.equal(count(after, / UNBIND/g) - unbinds, 3, 'three unbinds')
    t.equal(count(after, / closed/g) - closes, 3, 'three closed')
  })

  t.test('memberOf alone gives the role when the groups are unreadable', async (t) => {
    const hidden = await startSlapd(t, { hideGroups: true })
    const provider = direct(hidden.url)
    t.same(await ask(provider, u.alice.uid, u.alice.password), identity(u.alice, 'operator'))
    t.same(await ask(provider, u.bob.uid, u.bob.password), identity(u.bob, 'viewer'))
    t.same(await ask(provider, u.frank.uid, u.frank.password), { failed: NOT_IN_GROUP, forbidden: true, name: 'frank' }, 'frank\'s group has no memberOf and cannot be read')
  })
})

t.test('the directory down, hung, and back', async (t) => {
  const slapd = await startSlapd(t)
  const provider = searching(slapd.url)
  const alice = USERS.alice
  t.same(await ask(provider, alice.uid, alice.password), identity(alice, 'operator'))

  await slapd.stop()
  let started = Date.now()
  t.same(await ask(provider, USERS.bob.uid, USERS.bob.password), { failed: LDAP_UNAVAILABLE }, 'stopped: refused connection')
  t.ok(Date.now() - started < TIMEOUT_MS + 1000, `answered in ${Date.now() - started} ms`)

  await slapd.restart()
  t.same(await ask(provider, USERS.bob.uid, USERS.bob.password), identity(USERS.bob, 'viewer'), 'recovers after the restart')

  await slapd.pause()
  started = Date.now()
  const results = await Promise.all([
    ask(provider, USERS.frank.uid, USERS.frank.password),
    ask(direct(slapd.url), USERS.frank.uid, USERS.frank.password)
  ])
  const elapsed = Date.now() - started
  t.same(results, [{ failed: LDAP_UNAVAILABLE }, { failed: LDAP_UNAVAILABLE }], 'hung: both modes give up')
  t.ok(elapsed >= TIMEOUT_MS - 50 && elapsed < TIMEOUT_MS + 1000, `gave up after ${elapsed} ms (timeoutMs ${TIMEOUT_MS})`)
  slapd.resume()
  t.same(await ask(provider, USERS.frank.uid, USERS.frank.password), identity(USERS.frank, 'viewer'), 'recovers after the pause')
})

t.test('successes are cached briefly, failures never', async (t) => {
  const slapd = await startSlapd(t)
  let clock = 1_000_000
  const deps = { now: () => clock, cacheTtlMs: 60_000, cacheMaxEntries: 2 }
  const provider = direct(slapd.url, {}, deps)
  const { alice, bob, frank } = USERS
  const aliceBinds = async (): Promise<number> => (await slapd.binds()).filter((dn) => dn === alice.dn).length

  const start = await aliceBinds()
  t.same(await ask(provider, alice.uid, alice.password), identity(alice, 'operator'))
  t.same(await ask(provider, alice.uid, alice.password), identity(alice, 'operator'))
  t.equal(await aliceBinds(), start + 1, 'the second request did not bind again')
  t.equal(provider.stats.verifications, 1, 'stats: one verification')

  t.ok(isFailed(await ask(provider, alice.uid, 'wrong')))
  t.ok(isFailed(await ask(provider, alice.uid, 'wrong')))
  t.equal(await aliceBinds(), start + 3, 'each failure binds: failures are not cached')

  const burst = await Promise.all(Array.from({ length: 8 }, async () => await ask(provider, bob.uid, bob.password)))
  t.same(burst, Array(8).fill(identity(bob, 'viewer')), 'a burst of one client')
  t.equal((await slapd.binds()).filter((dn) => dn === bob.dn).length, 1, 'shares one bind')
  t.equal(provider.stats.verifications, 4, 'stats: alice, two failures, bob')

  await slapd.stop()
  t.same(await ask(provider, bob.uid, bob.password), identity(bob, 'viewer'), 'directory stopped: the cached success still counts')
  t.same(await ask(provider, bob.uid, 'wrong'), { failed: LDAP_UNAVAILABLE }, 'but another password is not accepted')
  t.same(await ask(provider, bob.uid, `${bob.password}x`), { failed: LDAP_UNAVAILABLE }, 'nor a longer one')
  t.same(await ask(provider, alice.uid, alice.password), identity(alice, 'operator'), 'alice is still cached')

  clock += 60_001
  t.same(await ask(provider, bob.uid, bob.password), { failed: LDAP_UNAVAILABLE }, 'after the TTL the directory is asked again')

  await slapd.restart()
  t.same(await ask(provider, alice.uid, alice.password), identity(alice, 'operator'))
  t.same(await ask(provider, bob.uid, bob.password), identity(bob, 'viewer'))
  t.same(await ask(provider, frank.uid, frank.password), identity(frank, 'viewer'))
  await slapd.stop()
  t.same(await ask(provider, alice.uid, alice.password), { failed: LDAP_UNAVAILABLE }, 'bounded: the oldest entry was dropped for the third')
  t.same(await ask(provider, frank.uid, frank.password), identity(frank, 'viewer'), 'the newest stays')

  await provider.close?.()
  t.same(await ask(provider, frank.uid, frank.password), { failed: LDAP_UNAVAILABLE }, 'close() empties the cache')

  const uncached = direct(slapd.url, {}, { cacheTtlMs: 0 })
  await slapd.restart()
  t.same(await ask(uncached, frank.uid, frank.password), identity(frank, 'viewer'))
  await slapd.stop()
  t.same(await ask(uncached, frank.uid, frank.password), { failed: LDAP_UNAVAILABLE }, 'cacheTtlMs 0: no cache')
})
