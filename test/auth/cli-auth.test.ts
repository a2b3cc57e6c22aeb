import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ACCESS_LOG } from '../../server.js'
import { exited, runCli, serveCli } from '../cli-process.js'
import { AUDIENCE, ISSUER, JwksServer, makeKey, sign } from './jwks-server.js'
import { fetcher, checkRoleMatrix } from './role-matrix.js'
import { basic, userAdd } from './users.js'

/**
 * `opendcre serve --users FILE --jwks-url ...` as a real process, and the
 * client CLI against it with --user/$OPENDCRE_PASSWORD and --token/$OPENDCRE_TOKEN.
 */
const dir = mkdtempSync(join(tmpdir(), 'opendcre-cli-auth-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const users = join(dir, 'users.json')
const jwks = new JwksServer()
t.teardown(async () => { await jwks.stop() })

const OPERATOR_PW = 'op-secret-17'
const VIEWER_PW = 'view-secret-42'

t.test('the client CLI with credentials against opendcre serve with Basic and JWT', async (t) => {
  t.equal((await userAdd(users, 'bob', 'operator', `${OPERATOR_PW}\n`)).code, 0)
  t.equal((await userAdd(users, 'alice', 'viewer', `${VIEWER_PW}\n`)).code, 0)
  const key = await makeKey('k1', 'ES256')
  jwks.keys = [key]
  const jwksUrl = await jwks.start()
  const logs = join(dir, 'logs')
  // beyond loopback (0.0.0.0) with authentication on: no "no authentication" warning
  // --no-poll: the emulator's readings advance only with this test's own reads
  const { child, url } = await serveCli(['--no-poll', '--host', '0.0.0.0', '--users', users, '--jwks-url', jwksUrl, '--jwt-issuer', ISSUER, '--jwt-audience', AUDIENCE, '--log-dir', logs])
  t.teardown(() => { child.kill('SIGKILL') })

  let r = await runCli(['power', '1', 'd', 'on', '--url', url])
  t.equal(r.code, 1, 'no credentials: a non-zero exit')
  t.match(r.stderr, 'opendcre: not authenticated (HTTP 401): authentication required; the service asks for credentials: --user NAME with $OPENDCRE_PASSWORD, or --token TOKEN')
  t.match(r.stderr, '(it accepts: Basic realm="opendcre", charset="UTF-8", Bearer realm="opendcre")')

  r = await runCli(['power', '1', 'd', 'on', '--url', url, '--user', 'bob'], { OPENDCRE_PASSWORD: OPERATOR_PW })
  t.equal(r.code, 0, 'an operator switches power')
  t.match(r.stdout, /power_status\s+on/)

  r = await runCli(['power', '1', 'd', 'off', '--url', url, '--user', 'alice'], { OPENDCRE_PASSWORD: VIEWER_PW })
  t.equal(r.code, 1, 'a viewer may not')
  t.match(r.stderr, 'opendcre: not allowed (HTTP 403): forbidden: the viewer role cannot change state (power off); an operator can')

  r = await runCli(['read', 'thermistor', '1', '1', '--url', url, '--json'], { OPENDCRE_USER: 'alice', OPENDCRE_PASSWORD: VIEWER_PW })
  t.equal(r.code, 0, 'a viewer reads; the user from $OPENDCRE_USER')
  t.same(JSON.parse(r.stdout), { temperature_c: 28.78 })

  r = await runCli(['scan', '--url', url, '--user', 'bob'], { OPENDCRE_PASSWORD: 'not-it' })
  t.equal(r.code, 1)
  t.match(r.stderr, 'opendcre: not authenticated (HTTP 401): authentication failed; the service refused these credentials')

  r = await runCli(['scan', '--url', url, '--user', 'bob', '--json'], { OPENDCRE_PASSWORD: 'not-it' })
  t.equal(r.code, 1)
  t.same(JSON.parse(r.stderr.replace(/^opendcre: /, '')), { message: 'authentication failed' }, '--json: the API\'s answer')

  r = await runCli(['scan', '--url', url, '--user', 'bob'])
  t.equal(r.code, 1)
  t.match(r.stderr, 'opendcre: --user bob: set the password in $OPENDCRE_PASSWORD')

  r = await runCli(['scan', '--url', url, '--user', 'bob', '--password', OPERATOR_PW])
  t.equal(r.code, 1, 'a password is never a flag')
  t.match(r.stderr, /Unknown option '--password'/)

  const operatorToken = await sign(key, { sub: 'svc-deploy', role: 'operator' })
  r = await runCli(['led', '2', '5', 'on', '--url', url, '--token', operatorToken])
  t.equal(r.code, 0, 'a bearer token from --token')
  t.match(r.stdout, /led_state\s+on/)

  r = await runCli(['fan', '2', '2', '4000', '--url', url], { OPENDCRE_TOKEN: await sign(key, { sub: 'dash', role: 'viewer' }) })
  t.equal(r.code, 1, 'a viewer token from $OPENDCRE_TOKEN may not set a fan')
  t.match(r.stderr, 'not allowed (HTTP 403)')

  r = await runCli(['fan', '2', '2', '--url', url], { OPENDCRE_TOKEN: await sign(key, { sub: 'dash', role: 'viewer' }) })
  t.equal(r.code, 0, '... but may read it')

  r = await runCli(['test', '--url', url, '--token', 'garbage'])
  t.equal(r.code, 1)
  t.match(r.stderr, 'error="invalid_token"')

  r = await runCli(['test', '--url', url, '--token', operatorToken, '--user', 'bob'], { OPENDCRE_PASSWORD: OPERATOR_PW })
  t.equal(r.code, 1)
  t.match(r.stderr, 'choose one of --user and --token')

  // the role matrix over the real listener, Basic and JWT mixed
  await checkRoleMatrix(t, url, {
    viewer: basic('alice', VIEWER_PW),
    operator: { authorization: `Bearer ${operatorToken}` },
    wrong: [basic('alice', OPERATOR_PW), { authorization: `Bearer ${operatorToken.slice(0, -4)}AAAA` }]
  }, { challenge: /Basic realm="opendcre".*Bearer realm="opendcre"/ })
  t.equal((await fetcher(url)('GET', '/test', {})).status, 401)

  const exit = exited(child)
  child.kill('SIGTERM')
  t.equal(await exit, 0)
  const access = readFileSync(join(logs, ACCESS_LOG), 'utf8')
  for (const secret of [OPERATOR_PW, VIEWER_PW, operatorToken.split('.')[2]]) t.notOk(access.includes(secret), 'no secret in the log')
  const lines = access.trim().split('\n').map((l) => JSON.parse(l))
  t.notOk(lines.some((l) => /no authentication/.test(l.msg)), 'no exposure warning: authentication is on')
  t.same(lines.find((l) => l.msg === 'OpenDCRE started')?.auth, {
    basic: { users_file: users },
    jwt: { jwks_url: jwksUrl, issuer: ISSUER, audience: AUDIENCE, role_claim: 'role' }
  }, 'the startup line names the providers')
})

t.test('auth configuration from opendcre_config.json; errors name the file and the field', async (t) => {
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify({ auth: { users_file: 'users.json' } }))
  const { child, url } = await serveCli(['--config', config, '--log-dir', join(dir, 'logs2')])
  t.teardown(() => { child.kill('SIGKILL') })
  t.equal((await fetch(`${url}/opendcre/1.2/test`)).status, 401, 'users_file relative to the config file')
  t.equal((await fetch(`${url}/opendcre/1.2/test`, { headers: basic('alice', VIEWER_PW) })).status, 200)
  child.kill('SIGTERM')

  const cases: Array<[unknown, string, string[]]> = [
    [{ auth: { users_file: 'nope.json' } }, `${join(dir, 'nope.json')}: auth.users_file: cannot read file (ENOENT)`, []],
    [{ auth: { jwt: { jwks_url: 'https://idp.example/jwks', issuer: 'x' } } }, 'auth.jwt.audience: missing required field', []],
    [{ auth: { jwt: { jwks_url: 'http://idp.example/jwks', issuer: 'x', audience: 'y' } } }, 'auth.jwt.jwks_url: must be an https:// URL (http:// only on loopback)', []],
    [{ auth: { ldap: { url: 'ldap://127.0.0.1:1', user_dn_template: 'uid=x' } } }, 'auth.ldap.user_dn_template: must contain {user}', []],
    [{ auth: { ldap: { url: 'ldap://127.0.0.1:1', user_dn_template: 'uid={user},dc=x' } } }, 'auth.ldap.operator_groups: name at least one group whose members get a role', []],
    [{ auth: { ldap: { url: 'ldap://127.0.0.1:1', search_base: 'dc=x', search_filter: '(uid={user})', bind_dn: 'cn=svc', operator_groups: ['cn=ops'] } } }, 'auth.ldap.bind_dn: the bind password comes from $OPENDCRE_LDAP_BIND_PASSWORD, which is not set', []],
    [{ auth: { jwt: { jwks_url: 'https://idp.example/jwks', issuer: 'x', audience: 'y', secret: 'z' } } }, 'auth.jwt.secret: auth.jwt takes {jwks_url, issuer, audience', []],
    [{ auth: { basic: true } }, 'bad_config.json: auth.basic: auth takes {users_file, jwt, ldap}', []],
    [{}, 'command line: jwt: --jwks-url, --jwt-issuer and --jwt-audience go together', ['--jwks-url', 'https://idp.example/jwks']],
    [{}, 'command line: --ldap-user-dn: name a DN template with {user}, or a search base and filter', ['--ldap-url', 'ldap://127.0.0.1:1', '--ldap-operator-group', 'cn=ops']]
  ]
  for (const [content, message, flags] of cases) {
    const file = join(dir, 'bad_config.json')
    writeFileSync(file, JSON.stringify(content))
    const r = await runCli(['serve', '--port', '0', '--config', file, '--log-dir', join(dir, 'logs3'), ...flags])
    t.equal(r.code, 1, message)
    t.match(r.stderr, message)
  }
})
