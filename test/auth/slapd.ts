import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A real OpenLDAP directory for the LDAP provider's tests: Debian's slapd
 * (2.5; .ci/run installs slapd and ldap-utils) with its own slapd.conf, an
 * mdb database in a fresh temporary directory, listening on 127.0.0.1 and a
 * free port as the current user, seeded with ldapadd. `-d stats` keeps it in
 * the foreground and logs one line per operation on stderr, which the tests
 * read to count binds.
 *
 * The memberof overlay maintains the users' memberOf attribute for the
 * groupOfNames groups, as Active Directory does; the groupOfUniqueNames group
 * is not covered by it, so that group is found only by searching the groups.
 */

const SUFFIX = 'dc=example,dc=org'
const ROOT_DN = `cn=admin,${SUFFIX}`
const ROOT_PW = 'rootpw-not-for-production'
export const PEOPLE = `ou=people,${SUFFIX}`
const GROUPS = `ou=groups,${SUFFIX}`

export const OPERATORS = `cn=opendcre-operators,${GROUPS}`
export const VIEWERS = `cn=opendcre-viewers,${GROUPS}`
/** A groupOfUniqueNames (uniqueMember): no memberOf for its members. */
export const UNIQUE_VIEWERS = `cn=opendcre-viewers-unique,${GROUPS}`

export interface SeedUser {
  /** The uid, which is the name a client sends in its Basic credentials. */
  uid: string
  /** The entry's DN as seeded (RFC 4514 escaped). */
  dn: string
  password: string
}

function person (uid: string, rdnValue: string, password: string, parent = PEOPLE): SeedUser {
  return { uid, dn: `uid=${rdnValue},${parent}`, password }
}

/** The seeded people. */
export const USERS = {
  /** In both groups: operator wins. */
  alice: person('alice', 'alice', 'alice-pw-1'),
  /** A viewer whose password holds a colon (Basic splits at the first one). */
  bob: person('bob', 'bob', 'bob:pw 2'),
  /** In no OpenDCRE group. */
  carol: person('carol', 'carol', 'carol-pw-3'),
  /** Below ou=contractors: only search-then-bind finds him. Operator. */
  dave: person('dave', 'dave', 'dave-pw-4', `ou=contractors,${PEOPLE}`),
  /** Viewer through the groupOfUniqueNames only; a non-ASCII password. */
  frank: person('frank', 'frank', 'fränk-pw-5'),
  /** A name that must be escaped in a DN (RFC 4514: comma). Viewer. */
  oneil: person("o'neil, jr", "o'neil\\, jr", 'oneil-pw-6'),
  /** A name that must be escaped in a filter (RFC 4515: asterisk). Operator. */
  star: person('a*b', 'a*b', 'star-pw-7'),
  /** sam1 and sam2 share the cn "Sam Smith": a filter on cn finds two entries. */
  sam1: person('sam1', 'sam1', 'sam-pw-8'),
  sam2: person('sam2', 'sam2', 'sam-pw-8')
} as const

/** The service account search-then-bind binds as. */
export const SERVICE = { dn: `cn=opendcre-svc,ou=services,${SUFFIX}`, password: 'svc-pw-9' }

interface SlapdOptions {
  /**
   * Only the root DN may read ou=groups: the users' own memberOf attribute is
   * then the only way to learn their groups (the Active Directory path).
   */
  hideGroups?: boolean
}

interface Slapd {
  url: string
  port: number
  suffix: string
  /** SIGTERM, wait for the exit. */
  stop: () => Promise<void>
  /** Start again on the same port and database (after stop, or stops first). */
  restart: () => Promise<void>
  /** SIGSTOP, resolved once every slapd thread is stopped: the port still accepts connections but nothing answers. */
  pause: () => Promise<void>
  /** SIGCONT after pause. */
  resume: () => void
  /** The DNs of every simple bind slapd has logged so far, in order. */
  binds: () => Promise<string[]>
  /** slapd's `-d stats` log so far (one line per connection event and operation). */
  log: () => Promise<string>
}

interface Teardown {
  teardown: (fn: () => unknown) => void
}

const START_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 5_000

function tool (name: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name)
  }
  return name
}

const MODULE_DIRS = ['/usr/lib/ldap', '/usr/lib64/openldap', '/usr/lib/openldap', '/usr/local/libexec/openldap']
const SCHEMA_DIRS = ['/etc/ldap/schema', '/etc/openldap/schema', '/usr/local/etc/openldap/schema']

function firstExisting (dirs: string[], file: string, what: string): string {
  const dir = dirs.find((d) => existsSync(join(d, file)))
  if (dir === undefined) throw new Error(`slapd ${what} not found (looked for ${file} in ${dirs.join(', ')}); Debian: apt-get install slapd ldap-utils`)
  return dir
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function slapdConf (dir: string, options: SlapdOptions): string {
  const schemaDir = firstExisting(SCHEMA_DIRS, 'core.schema', 'schema')
  const moduleDir = firstExisting(MODULE_DIRS, 'back_mdb.la', 'modules')
  const groupsAcl = options.hideGroups === true
    ? [`access to dn.subtree="${GROUPS}"`, `  by dn.exact="${ROOT_DN}" read`, '  by * none']
    : []
  return [
    ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${join(schemaDir, `${s}.schema`)}`),
    `modulepath ${moduleDir}`,
    'moduleload back_mdb',
    'moduleload memberof',
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    'database mdb',
    'maxsize 16777216',
    `suffix "${SUFFIX}"`,
    `rootdn "${ROOT_DN}"`,
    `rootpw ${ROOT_PW}`,
    `directory ${join(dir, 'db')}`,
    'overlay memberof',
    'access to attrs=userPassword',
    '  by self write',
    '  by anonymous auth',
    '  by * none',
    ...groupsAcl,
    'access to *',
    '  by users read',
    '  by * none',
    ''
  ].join('\n')
}

function entry (dn: string, lines: string[]): string {
  return [`dn: ${dn}`, ...lines, ''].join('\n')
}

function passwordLine (password: string): string {
  // LDIF needs base64 (`::`) for anything beyond printable ASCII.
  return /^[\x20-\x7e]*$/.test(password) && !password.startsWith(' ') && !password.startsWith(':')
    ? `userPassword: ${password}`
    : `userPassword:: ${Buffer.from(password, 'utf8').toString('base64')}`
}

function userEntry (user: SeedUser, cn = user.uid): string {
  const uidLine = /^[\x20-\x7e]*$/.test(user.uid) ? `uid: ${user.uid}` : `uid:: ${Buffer.from(user.uid).toString('base64')}`
  return entry(user.dn, ['objectClass: inetOrgPerson', uidLine, `cn: ${cn}`, `sn: ${cn}`, passwordLine(user.password)])
}

function seedLdif (): string {
  const ou = (dn: string, name: string): string => entry(dn, ['objectClass: organizationalUnit', `ou: ${name}`])
  const group = (dn: string, cn: string, members: SeedUser[]): string =>
    entry(dn, ['objectClass: groupOfNames', `cn: ${cn}`, ...members.map((m) => `member: ${m.dn}`)])
  const u = USERS
  return [
    entry(SUFFIX, ['objectClass: dcObject', 'objectClass: organization', 'o: Example', 'dc: example']),
    ou(PEOPLE, 'people'),
    ou(`ou=contractors,${PEOPLE}`, 'contractors'),
    ou(`ou=services,${SUFFIX}`, 'services'),
    ou(GROUPS, 'groups'),
    userEntry(u.alice), userEntry(u.bob), userEntry(u.carol), userEntry(u.dave), userEntry(u.frank),
    userEntry(u.oneil, 'Oneil Jr'), userEntry(u.star, 'A Star B'),
    userEntry(u.sam1, 'Sam Smith'), userEntry(u.sam2, 'Sam Smith'),
    entry(SERVICE.dn, ['objectClass: applicationProcess', 'objectClass: simpleSecurityObject', 'cn: opendcre-svc', passwordLine(SERVICE.password)]),
    group(OPERATORS, 'opendcre-operators', [u.alice, u.dave, u.star]),
    group(VIEWERS, 'opendcre-viewers', [u.alice, u.bob, u.oneil, u.sam1, u.sam2]),
    entry(UNIQUE_VIEWERS, ['objectClass: groupOfUniqueNames', 'cn: opendcre-viewers-unique', `uniqueMember: ${u.frank.dn}`])
  ].join('\n')
}

function delay (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

function ldapUtil (name: string, args: string[], input?: string): { status: number | null, output: string } {
  const r = spawnSync(tool(name), args, { input, encoding: 'utf8', timeout: 10_000 })
  if (r.error !== undefined) throw new Error(`${name} failed to run (${r.error.message}); Debian: apt-get install ldap-utils`)
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

/**
 * Start a seeded slapd for one test (file); stopped and its directory
 * removed in t.teardown.
 */
export async function startSlapd (t: Teardown, options: SlapdOptions = {}): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-slapd-'))
  mkdirSync(join(dir, 'db'))
  const conf = join(dir, 'slapd.conf')
  writeFileSync(conf, slapdConf(dir, options))

  let port = 0
  let child: ChildProcess | undefined
  let log = ''
  let paused = false

  const spawnSlapd = async (): Promise<void> => {
    const url = `ldap://127.0.0.1:${port}/`
    const proc = spawn(tool('slapd'), ['-h', url, '-f', conf, '-d', 'stats'], { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    let stderr = ''
    proc.stderr!.on('data', (d) => {
      stderr += String(d)
      log += String(d)
      if (log.length > 4_000_000) log = log.slice(-2_000_000)
    })
    const deadline = Date.now() + START_TIMEOUT_MS
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`slapd exited (${String(proc.exitCode ?? proc.signalCode)}) while starting on ${url}:\n${stderr.slice(-4000)}`)
      }
      const r = spawnSync(tool('ldapsearch'), ['-x', '-H', url, '-b', '', '-s', 'base', '-o', 'nettimeout=1', 'namingContexts'], { encoding: 'utf8', timeout: 3000 })
      if (r.error !== undefined) {
        proc.kill('SIGKILL')
        throw new Error(`ldapsearch failed to run (${r.error.message}); Debian: apt-get install ldap-utils`)
      }
      if (r.status === 0) return
      await delay(50)
    }
    proc.kill('SIGKILL')
    await exited(proc)
    throw new Error(`slapd did not answer on ${url} within ${START_TIMEOUT_MS} ms:\n${stderr.slice(-4000)}`)
  }

  const stop = async (): Promise<void> => {
    const proc = child
    if (proc === undefined) return
    child = undefined
    if (paused) resume()
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await exited(proc)
      clearTimeout(timer)
    }
  }

  const resume = (): void => {
    if (child !== undefined && paused) child.kill('SIGCONT')
    paused = false
  }

  t.teardown(async () => {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })

  // The free port may be taken between the probe and slapd's bind: try again.
  for (let attempt = 1; ; attempt++) {
    port = await freePort()
    try {
      await spawnSlapd()
      break
    } catch (err) {
      await stop()
      if (attempt >= 3) throw err
    }
  }
  const url = `ldap://127.0.0.1:${port}`

  writeFileSync(join(dir, 'seed.ldif'), seedLdif())
  const added = ldapUtil('ldapadd', ['-x', '-H', url, '-D', ROOT_DN, '-w', ROOT_PW, '-f', join(dir, 'seed.ldif')])
  if (added.status !== 0) throw new Error(`ldapadd could not seed the directory:\n${added.output}`)

  return {
    url,
    port,
    suffix: SUFFIX,
    stop,
    restart: async () => {
      await stop()
      await spawnSlapd()
    },
    pause: async () => {
      if (child !== undefined && !paused) {
        child.kill('SIGSTOP')
        paused = true
        // a signal takes effect when each thread is next scheduled: on a loaded
        // machine slapd could still answer a request sent right after kill()
        const pid = child.pid
        if (pid !== undefined) for (let i = 0; i < 200 && !allThreadsStopped(pid); i++) await new Promise((resolve) => setTimeout(resolve, 5))
      }
    },
    resume,
    binds: async () => {
      // slapd writes the line before it answers; let the pipe deliver it.
      await delay(100)
      return [...log.matchAll(/ BIND dn="([^"]*)" method=128/g)].map((m) => m[1])
    },
    log: async () => {
      await delay(100)
      return log
    }
  }
}

/** Whether every thread of a process is stopped (state T in /proc). */
function allThreadsStopped (pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((tid) => /^\S+ \(.*\) [Tt] /.test(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')))
  } catch {
    return true
  }
}
