import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { exportSPKI, SignJWT, type JWTPayload } from 'jose'
import { createJwtProvider } from '../../auth/jwt.js'
import { build, PREFIX } from '../helper.js'
import { AUDIENCE, ISSUER, JwksServer, makeKey, sign, type Key } from './jwks-server.js'
import { checkRoleMatrix } from './role-matrix.js'
import { basic, userAdd } from './users.js'

/**
 * Bearer JWTs against a real JWKS: a tiny node:http server on 127.0.0.1
 * serving the public halves of keys generated here with jose; tokens signed
 * with them (and with others, and with none).
 */
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

const jwks = new JwksServer()
let jwksUrl = ''
let rsa: Key
let stranger: Key
t.before(async () => {
  rsa = await makeKey('rsa-1', 'RS256')
  stranger = await makeKey('rsa-1', 'RS256') // the same kid, another key: a forger's
  jwks.keys = [rsa]
  jwksUrl = await jwks.start()
})
t.teardown(async () => { await jwks.stop() })

const jwtConfig = (): { jwksUrl: string, jwtIssuer: string, jwtAudience: string } => ({ jwksUrl, jwtIssuer: ISSUER, jwtAudience: AUDIENCE })

t.test('the role matrix over JWT', async (t) => {
  const app = await build(t, jwtConfig())
  await checkRoleMatrix(t, app, {
    viewer: bearer(await sign(rsa, { sub: 'viewer-1', role: 'viewer' })),
    operator: bearer(await sign(rsa, { sub: 'operator-1', role: ['viewer', 'operator'] })),
    wrong: [
      bearer(await sign(rsa, { role: 'operator' }, { exp: Math.floor(Date.now() / 1000) - 3600 })),
      bearer(await sign(stranger, { role: 'operator' })),
      bearer('garbled.token.here')
    ]
  }, { challenge: /Bearer realm="opendcre"/ })
})

t.test('tokens that must fail: 401 with error="invalid_token", none reaches a command', async (t) => {
  const app = await build(t, jwtConfig())
  const now = Math.floor(Date.now() / 1000)
  const publicPem = await exportSPKI(rsa.publicKey)
  const header = { alg: 'none', typ: 'JWT' }
  const payload = { sub: 'mallory', role: 'operator', iss: ISSUER, aud: AUDIENCE, exp: now + 600 }
  const hs256 = await new SignJWT({ sub: 'mallory', role: 'operator' }).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
    .setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('10m').sign(new TextEncoder().encode(publicPem))
  const cases: Array<[string, string]> = [
    ['expired', await sign(rsa, { role: 'operator' }, { exp: now - 120 })],
    ['not yet valid (nbf in the future)', await sign(rsa, { role: 'operator' }, { nbf: now + 3600 })],
    ['wrong issuer', await sign(rsa, { role: 'operator' }, { iss: 'https://evil.test/' })],
    ['wrong audience', await sign(rsa, { role: 'operator' }, { aud: 'another-service' })],
    ['signed by another key with the same kid', await sign(stranger, { role: 'operator' })],
    ['an unknown kid', await sign(stranger, { role: 'operator' }, { kid: 'nope' })],
    ['alg none', `${b64url(header)}.${b64url(payload)}.`],
    ['HS256 with the public key as the secret', hs256],
    ['a payload swapped after signing', (await sign(rsa, { role: 'viewer' })).replace(/\.[^.]+\./, `.${b64url(payload)}.`)],
    ['garbled', 'not-a-jwt'],
    ['two segments', 'abc.def'],
    ['empty', ''],
    ['huge', 'a'.repeat(9000)]
  ]
  for (const [name, token] of cases) {
    const res = await app.inject({ url: `${PREFIX}/power/00000001/000d/on`, headers: bearer(token) })
    t.equal(res.statusCode, 401, name)
    t.equal(res.json().message, 'authentication failed', `${name}: {"message"}`)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="opendcre", error="invalid_token"', `${name}: RFC 6750 challenge`)
  }
  const missing = await app.inject({ url: `${PREFIX}/test` })
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="opendcre"', 'no token: the challenge without an error')
  const skew = await app.inject({ url: `${PREFIX}/test`, headers: bearer(await sign(rsa, { role: 'viewer' }, { exp: now - 10 })) })
  t.equal(skew.statusCode, 200, 'a token expired 10 s ago passes: a small clock tolerance')
})

t.test('roles from the claim: operator wins, custom and nested claims, and a token without a role gets 403', async (t) => {
  const audit = join(mkdtempSync(join(tmpdir(), 'opendcre-jwt-')), 'audit.log')
  t.teardown(() => rmSync(join(audit, '..'), { recursive: true, force: true }))
  const app = await build(t, { ...jwtConfig(), auditLog: audit })
  const status = async (claims: JWTPayload, path = '/power/00000001/000d/on'): Promise<number> =>
    (await app.inject({ url: `${PREFIX}${path}`, headers: bearer(await sign(rsa, claims)) })).statusCode
  t.equal(await status({ sub: 'op', role: ['operator', 'viewer'] }), 200, 'an array with operator: operator')
  t.equal(await status({ sub: 'v', role: ['viewer', 'admin'] }), 403, 'an array with viewer: viewer')
  t.equal(await status({ sub: 'v', role: 'viewer' }, '/power/00000001/000d'), 200)
  const norole = await app.inject({ url: `${PREFIX}/power/00000001/000d`, headers: bearer(await sign(rsa, { sub: 'nobody-special' })) })
  t.equal(norole.statusCode, 403, 'a valid token without a role: authenticated, allowed nothing')
  t.match(norole.json(), { message: /'nobody-special' has no role/ })
  t.equal(norole.headers['www-authenticate'], undefined, '403, not a challenge: other credentials would not help')
  t.equal(await status({ sub: 'x', role: 'admin' }, '/test'), 403, 'an unknown role value: 403 even for reads')
  t.equal(await status({ sub: 'x', role: 42 }, '/test'), 403, 'a role claim of the wrong type')
  t.equal(await status({ role: 'operator', sub: undefined }), 401, 'no subject: no identity to audit, 401')
  await app.close()
  const lines = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  t.match(lines, [{ identity: 'op', status: 200 }, { identity: 'v', status: 403 }, { identity: 'anonymous', status: 401 }], 'the subject is the identity')

  const keycloak = await build(t, { ...jwtConfig(), jwtRoleClaim: 'realm_access.roles' })
  const ask = async (claims: JWTPayload): Promise<number> =>
    (await keycloak.inject({ url: `${PREFIX}/led/00000002/0005/on`, headers: bearer(await sign(rsa, claims)) })).statusCode
  t.equal(await ask({ realm_access: { roles: ['offline_access', 'operator'] } }), 200, 'a nested claim (Keycloak realm roles)')
  t.equal(await ask({ realm_access: { roles: ['viewer'] } }), 403)
  t.equal(await ask({ role: 'operator' }), 403, 'the default claim is not read when another is configured')

  const valued = await build(t, {

    authProviders: [createJwtProvider({ jwksUrl, issuer: ISSUER, audience: AUDIENCE, roleClaim: 'groups', roleValues: { operator: ['dc-ops'], viewer: ['dc-staff'] } })]
  })
  const as = async (groups: string[]): Promise<number> =>
    (await valued.inject({ url: `${PREFIX}/fan/00000002/0002/4000`, headers: bearer(await sign(rsa, { groups })) })).statusCode
  t.equal(await as(['dc-staff', 'dc-ops']), 200, 'configured claim values map to roles')
  t.equal(await as(['dc-staff']), 403)
  t.equal(await as(['operator']), 403, 'the default values no longer count')
})

t.test('JWKS down or hanging: 401 within a bounded time, never a hang', async (t) => {
  const down = new JwksServer()
  const downUrl = await down.start()
  await down.stop()
  const app = await build(t, { jwksUrl: downUrl, jwtIssuer: ISSUER, jwtAudience: AUDIENCE })
  let started = Date.now()
  const res = await app.inject({ url: `${PREFIX}/test`, headers: bearer(await sign(rsa, { role: 'viewer' })) })
  t.equal(res.statusCode, 401, 'JWKS unreachable: 401')
  t.equal(res.headers['www-authenticate'], 'Bearer realm="opendcre"', 'not invalid_token: the token may be fine')
  t.ok(Date.now() - started < 3000, 'answered at once')

  const hanging = new JwksServer()
  hanging.hang = true
  const hangingUrl = await hanging.start()
  t.teardown(async () => { await hanging.stop() })
  const slow = await build(t, { authProviders: [createJwtProvider({ jwksUrl: hangingUrl, issuer: ISSUER, audience: AUDIENCE }, { jwksTimeoutMs: 300 })] })
  started = Date.now()
  const res2 = await slow.inject({ url: `${PREFIX}/test`, headers: bearer(await sign(rsa, { role: 'viewer' })) })
  const elapsed = Date.now() - started
  t.equal(res2.statusCode, 401, 'a JWKS that never answers: 401')
  t.ok(elapsed >= 250 && elapsed < 5000, `after the JWKS timeout (${elapsed} ms)`)
  t.equal(hanging.fetches, 1)
})

t.test('key rotation: a new key id is fetched; a key removed from the JWKS stops verifying', async (t) => {
  const rotating = new JwksServer()
  const first = await makeKey('k1', 'RS256')
  rotating.keys = [first]
  const url = await rotating.start()
  t.teardown(async () => { await rotating.stop() })
  const provider = createJwtProvider({ jwksUrl: url, issuer: ISSUER, audience: AUDIENCE }, { jwksCooldownMs: 0 })
  const app = await build(t, { authProviders: [provider] })
  const ask = async (key: Key, sub: string): Promise<number> =>
    (await app.inject({ url: `${PREFIX}/test`, headers: bearer(await sign(key, { sub, role: 'viewer' })) })).statusCode
  t.equal(await ask(first, 'a'), 200)
  t.equal(rotating.fetches, 1)
  const second = await makeKey('k2', 'ES256')
  rotating.keys = [second] // the issuer rotates: k1 out, k2 in
  t.equal(await ask(second, 'b'), 200, 'a token with the new kid: the JWKS is fetched again and the key found')
  t.equal(rotating.fetches, 2)
  t.equal(await ask(first, 'c'), 401, 'a new token signed with the removed key fails')
  const ed = await makeKey('k3', 'EdDSA')
  rotating.keys = [second, ed]
  t.equal(await ask(ed, 'd'), 200, 'EdDSA keys too')
})

t.test('a verified token is cached until its exp; the cache never outlives the token', async (t) => {
  let now = Date.now()
  const provider = createJwtProvider({ jwksUrl, issuer: ISSUER, audience: AUDIENCE }, { now: () => now, cacheTtlMs: 60_000 })
  const app = await build(t, { authProviders: [provider] })
  const token = await sign(rsa, { sub: 'c', role: 'operator' }, { exp: Math.floor(now / 1000) + 40 })
  const ask = async (): Promise<number> => (await app.inject({ url: `${PREFIX}/test`, headers: bearer(token) })).statusCode
  t.equal(await ask(), 200)
  t.equal(await ask(), 200)
  t.equal(provider.stats.verifications, 1, 'the second request skipped the signature check')
  now += 39_000
  t.equal(await ask(), 200)
  t.equal(provider.stats.verifications, 1)
  now += 2_000 + 30_000 // past exp and the clock tolerance
  t.equal(await ask(), 401, 'expired: the cache let it go, the verification refuses it')
  t.equal(provider.stats.verifications, 2)
})

t.test('Basic and JWT together: either works, WWW-Authenticate offers both', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-jwt-basic-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const users = join(dir, 'users.json')
  t.equal((await userAdd(users, 'ops', 'operator', 'pw-for-ops\n')).code, 0)
  const app = await build(t, { ...jwtConfig(), usersFile: users })
  const none = await app.inject({ url: `${PREFIX}/test` })
  t.equal(none.statusCode, 401)
  t.equal(none.headers['www-authenticate'], 'Basic realm="opendcre", charset="UTF-8", Bearer realm="opendcre"')
  t.equal((await app.inject({ url: `${PREFIX}/power/00000001/000d/on`, headers: basic('ops', 'pw-for-ops') })).statusCode, 200)
  t.equal((await app.inject({ url: `${PREFIX}/power/00000001/000d/on`, headers: bearer(await sign(rsa, { role: 'operator' })) })).statusCode, 200)
  const bad = await app.inject({ url: `${PREFIX}/test`, headers: bearer('x.y.z') })
  t.equal(bad.headers['www-authenticate'], 'Basic realm="opendcre", charset="UTF-8", Bearer realm="opendcre", error="invalid_token"')
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 401, 'metrics need credentials too')
  t.equal((await app.inject({ url: `${PREFIX}/openapi.json` })).statusCode, 401, 'so does the OpenAPI document')
  t.equal((await app.inject({ url: `${PREFIX}/health` })).statusCode, 200, 'health does not')
  t.equal((await app.inject({ url: `${PREFIX}/nope` })).statusCode, 401, 'unknown paths: 401 first, no route probing')
})

t.test('JWT configuration errors name the source, the field and the reason', async (t) => {
  const { resolveConfig } = await import('../../config/service-config.js')
  t.throws(() => resolveConfig({ jwksUrl, jwtIssuer: ISSUER }), /command line: jwt: --jwks-url, --jwt-issuer and --jwt-audience go together/)
  t.throws(() => resolveConfig({ jwksUrl: 'http://idp.example.com/jwks', jwtIssuer: ISSUER, jwtAudience: AUDIENCE }), /command line: jwks-url: must be an https:\/\/ URL \(http:\/\/ only on loopback\)/)
  t.throws(() => resolveConfig({ jwksUrl: 'not a url', jwtIssuer: ISSUER, jwtAudience: AUDIENCE }), /command line: jwks-url: 'not a url' is not a URL/)
  t.same(resolveConfig({ jwksUrl: 'https://idp.example.com/jwks', jwtIssuer: ISSUER, jwtAudience: AUDIENCE }).auth.jwt,
    { jwksUrl: 'https://idp.example.com/jwks', issuer: ISSUER, audience: AUDIENCE, roleClaim: undefined })
})
