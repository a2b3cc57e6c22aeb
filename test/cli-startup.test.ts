import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runCli } from './cli-process.js'
import { makeCertificates } from './tls-certificates.js'

/**
 * Every configuration input of `opendcre serve`, broken on purpose, with the
 * real CLI process: exactly one line on stderr naming the file, the setting
 * or field and the reason, exit 1, promptly (nothing blocks or spins), no
 * stack trace, and nothing of the file's contents quoted.
 */

const dir = mkdtempSync(join(tmpdir(), 'opendcre-startup-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string): string => join(dir, name)
makeCertificates(dir)
execFileSync('mkfifo', [file('fifo')])
mkdirSync(file('a-directory'))
writeFileSync(file('garbage.pem'), 'SECRET-GARBAGE\n')
writeFileSync(file('users-broken.json'), '{"users": [{"name": "alice", "role": "operator", "hash": "scrypt$SECRET-HASH" oops')
writeFileSync(file('bmc-broken.json'), '{"bmcs": [{"bmc_ip": "10.0.0.1", "username": "root", "password": "SECRET-PW",,')
writeFileSync(file('emulator-broken.json'), '{"boards": [SECRET')
writeFileSync(file('config-bmc-fifo.json'), JSON.stringify({ bmc_config: 'fifo' }))
writeFileSync(file('config-ssl-ca.json'), JSON.stringify({ ssl_enable: true, ssl_cert: 'server.crt', ssl_key: 'server.key', ssl_ca: 'garbage.pem' }))
writeFileSync(file('config-users.json'), JSON.stringify({ auth: { users_file: 'a-directory' } }))
writeFileSync(file('config-timeouts.json'), JSON.stringify({ headers_timeout_ms: 5000, request_timeout_ms: 1000 }))
writeFileSync(file('not-a-directory'), '')
writeFileSync(file('config-cors.json'), JSON.stringify({ cors_origins: ['https://ops.example', 'ftp://files.example/path'] }))
writeFileSync(file('config-hosts.json'), JSON.stringify({ allowed_hosts: ['ops.example', 'a b'] }))
writeFileSync(file('config-streams.json'), JSON.stringify({ max_streams_per_client: 0 }))

const TLS = ['--tls-cert', file('server.crt'), '--tls-key', file('server.key')]

/** [what, arguments, the one line expected after "opendcre: "] */
const cases: Array<[string, string[], string | RegExp]> = [
  ['missing users file', ['--users', '/nonexistent/users.json'], '/nonexistent/users.json: --users: cannot read file (ENOENT)'],
  ['users file with a syntax error', ['--users', file('users-broken.json')], `${file('users-broken.json')}: --users: invalid JSON at line 1, column 79 (the text is not quoted)`],
  ['users file that is a directory (from the config file)', ['--config', file('config-users.json')], `${file('a-directory')}: auth.users_file: cannot read file: a directory, not a regular file`],
  ['TLS certificate that is not one', ['--tls-cert', file('garbage.pem'), '--tls-key', file('server.key')], `${file('garbage.pem')}: --tls-cert: holds no certificate (PEM) that can be read`],
  ['TLS key that is not one', ['--tls-cert', file('server.crt'), '--tls-key', file('garbage.pem')], `${file('garbage.pem')}: --tls-key: holds no private key (PEM, unencrypted) that can be read`],
  ['TLS key of another certificate', ['--tls-cert', file('server.crt'), '--tls-key', file('client.key')], `${file('client.key')}: --tls-key: is not the key of the certificate in ${file('server.crt')}`],
  ['TLS CA holding no certificate', [...TLS, '--tls-ca', file('garbage.pem')], `${file('garbage.pem')}: --tls-ca: holds no certificate (PEM): no client certificate could ever be accepted`],
  ['TLS CA that is a FIFO', [...TLS, '--tls-ca', file('fifo')], `${file('fifo')}: --tls-ca: cannot read file: a FIFO, not a regular file`],
  ['ssl_ca in the config file holding no certificate', ['--config', file('config-ssl-ca.json')], `${file('garbage.pem')}: ssl_ca: holds no certificate (PEM): no client certificate could ever be accepted`],
  ['emulator config with a syntax error', ['--emulator', file('emulator-broken.json')], `${file('emulator-broken.json')}: --emulator: invalid JSON at line 1, column 13 (the text is not quoted)`],
  ['emulator config that is a FIFO', ['--emulator', file('fifo')], `${file('fifo')}: --emulator: cannot read file: a FIFO, not a regular file`],
  ['bmc_config that is a FIFO', ['--bmc-config', file('fifo')], `${file('fifo')}: --bmc-config: cannot read file: a FIFO, not a regular file`],
  ['bmc_config /dev/zero', ['--bmc-config', '/dev/zero'], '/dev/zero: --bmc-config: cannot read file: a character device, not a regular file'],
  ['bmc_config that is a directory', ['--bmc-config', file('a-directory')], `${file('a-directory')}: --bmc-config: cannot read file: a directory, not a regular file`],
  ['bmc_config with a syntax error', ['--bmc-config', file('bmc-broken.json')], `${file('bmc-broken.json')}: --bmc-config: invalid JSON at line 1, column 78 (the text is not quoted)`],
  ['bmc_config named by --bmc-config, missing', ['--bmc-config', '/nonexistent/bmc_config.json'], '/nonexistent/bmc_config.json: --bmc-config: cannot read file (ENOENT)'],
  ['bmc_config named by the config file, a FIFO', ['--config', file('config-bmc-fifo.json')], `${file('fifo')}: bmc_config: cannot read file: a FIFO, not a regular file`],
  ['opendcre_config that is a FIFO', ['--config', file('fifo')], `${file('fifo')}: --config: cannot read file: a FIFO, not a regular file`],
  ['opendcre_config that is a directory', ['--config', file('a-directory')], `${file('a-directory')}: --config: cannot read file: a directory, not a regular file`],
  ['opendcre_config with crossed timeouts', ['--config', file('config-timeouts.json')], `${file('config-timeouts.json')}: headers_timeout_ms: must not exceed request_timeout_ms (1000)`],
  ['log dir under /proc', ['--log-dir', '/proc/opendcre-logs'], '/proc/opendcre-logs: --log-dir: cannot make /proc/opendcre-logs (ENOENT)'],
  ['log dir that is a file', ['--log-dir', file('not-a-directory')], `${file('not-a-directory')}: --log-dir: ${file('not-a-directory')} is not a directory`],
  ['cors_origins holding a URL with a path', ['--config', file('config-cors.json')], `${file('config-cors.json')}: cors_origins[1]: must be an origin (scheme://host[:port], no path) or '*'`],
  ['allowed_hosts holding a space', ['--config', file('config-hosts.json')], `${file('config-hosts.json')}: allowed_hosts[1]: must be a host name or address`],
  ['max_streams_per_client 0', ['--config', file('config-streams.json')], `${file('config-streams.json')}: max_streams_per_client: must be a positive integer`],
  ['--max-connections that is not a number', ['--max-connections', 'lots'], "--max-connections: not a positive number of connections: 'lots'"]
]

t.test('one line, exit 1, promptly, for every broken configuration input', async (t) => {
  // a few processes at a time: each is a Node start
  for (let i = 0; i < cases.length; i += 6) {
    await Promise.all(cases.slice(i, i + 6).map(async ([what, args, expected]) => {
      const started = Date.now()
      const hasLogDir = args.includes('--log-dir')
      const r = await runCli(['serve', '--host', '127.0.0.1', '--port', '0', ...(hasLogDir ? [] : ['--log-dir', file(`logs-${i}`)]), ...args], {}, 60_000)
      const ms = Date.now() - started
      t.equal(r.code, 1, `${what}: exit 1 (after ${ms} ms${r.code === null ? ', killed: it hung' : ''})`)
      const lines = r.stderr.split('\n').filter((l) => l !== '')
      t.equal(lines.length, 1, `${what}: exactly one line on stderr${lines.length > 1 ? `:\n${r.stderr}` : ''}`)
      if (typeof expected === 'string') t.equal(lines[0], `opendcre: ${expected}`, what)
      else t.match(lines[0], expected, what)
      t.notMatch(r.stderr + r.stdout, /SECRET|sonic boom|node_modules|\n\s+at /, `${what}: no contents quoted, no stack trace`)
    }))
  }
})
