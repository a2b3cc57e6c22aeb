import { createHmac, randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { Client, InvalidCredentialsError, ResultCodeError } from 'ldapts'
import type { AuthFailure } from './outcome.js'
import { VerificationCache } from './verification-cache.js'
import { ROLES, type AuthProvider, type AuthResult, type Identity, type LdapOptions, type Role } from './provider.js'

/**
 * LDAP / Active Directory: clients send HTTP Basic credentials; the provider
 * binds to the directory as that user and maps group membership to a role.
 *
 *  - Direct bind: the DN is `userDnTemplate` with {user} replaced by the
 *    RFC 4514-escaped user name.
 *  - Search-then-bind (AD style): bind as `bindDn` (or anonymously without
 *    it), search `searchBase` (subtree) with `searchFilter`, {user} replaced by
 *    the RFC 4515-escaped user name; exactly one entry must match; then bind as
 *    that entry's DN with the user's password.
 *
 * Roles: a user is a member of a configured group when the group entry lists
 * the user's DN in `member` (groupOfNames, AD groups) or `uniqueMember`
 * (groupOfUniqueNames), or when the user's own `memberOf` attribute (AD,
 * OpenLDAP's memberof overlay) names the group. The lookups run on the user's
 * own connection, with the user's rights. Operator wins over viewer. A user in
 * no configured group (right password, no role) gets
 * `{ failed: 'not in any OpenDCRE group', forbidden: true, name }`: the auth
 * plugin answers 403 (sending the same credentials again cannot help) and
 * logs the name; a plugin that ignores the extra fields answers 401.
 *
 * An empty password is refused before the directory is contacted: a simple
 * bind with a DN and an empty password is an "unauthenticated bind" (RFC 4513
 * §5.1.2) that many servers answer with success.
 *
 * One connection per authentication, always unbound afterwards; the whole
 * exchange is bounded by timeoutMs (default 3000), after which the result is
 * `{ failed: 'LDAP server unavailable' }`. Successes are cached for a short
 * time (60 s) in a bounded map keyed by an HMAC of the Authorization header
 * (the header itself is never kept); failures are not cached. Concurrent
 * requests with the same header share one exchange.
 */

export interface LdapProviderDeps {
  /** Clock for the cache (ms); Date.now by default. */
  now?: () => number
  /** How long a success is reused (ms), default 60 000; 0 disables the cache. */
  cacheTtlMs?: number
  /** The most cached successes kept, default 1000; the oldest goes first. */
  cacheMaxEntries?: number
}

const CHALLENGE = 'Basic realm="opendcre"'
const DEFAULT_TIMEOUT_MS = 3000
const DEFAULT_CACHE_TTL_MS = 60_000
const DEFAULT_CACHE_MAX = 1000
const MAX_USER_LENGTH = 256
const MAX_PASSWORD_LENGTH = 1024

export const LDAP_UNAVAILABLE = 'LDAP server unavailable'
export const NOT_IN_GROUP = 'not in any OpenDCRE group'

function hexEscape (ch: string): string {
  return [...Buffer.from(ch, 'utf8')].map((b) => '\\' + b.toString(16).padStart(2, '0')).join('')
}

/**
 * Escape an attribute value for use in a DN (RFC 4514 §2.4): `"` `+` `,` `;`
 * `<` `>` `\` and `=` get a backslash; a leading space or `#` and a trailing
 * space are escaped; NUL and other control characters become hex pairs.
 */
export function escapeDnValue (value: string): string {
  const chars = [...value]
  return chars.map((ch, i) => {
    if (ch.charCodeAt(0) < 0x20 || ch === '\x7f') return hexEscape(ch)
    if ('"+,;<>\\='.includes(ch)) return '\\' + ch
    if (i === 0 && (ch === ' ' || ch === '#')) return '\\' + ch
    if (i === chars.length - 1 && ch === ' ') return '\\' + ch
    return ch
  }).join('')
}

/** Escape an assertion value for use in a search filter (RFC 4515 §3): `*` `(` `)` `\` NUL. */
export function escapeFilterValue (value: string): string {
  return value.replace(/[*()\\\0]/g, (ch) => '\\' + ch.charCodeAt(0).toString(16).padStart(2, '0'))
}

/**
 * A comparable form of a DN: attribute types and values lower-cased, escapes
 * resolved, spaces around separators dropped, multi-valued RDNs sorted. Good
 * for the case-insensitive naming attributes (cn, ou, dc, uid) group DNs use;
 * used to compare memberOf values with the configured group DNs.
 */
export function normalizeDn (dn: string): string {
  const rdns: string[][] = []
  let avas: string[] = []
  let type = ''
  let bytes: number[] = []
  let inValue = false
  const flushAva = (): void => {
    const value = Buffer.from(bytes).toString('utf8').trim().toLowerCase()
    avas.push(`${type.trim().toLowerCase()}=${escapeDnValue(value)}`)
    type = ''
    bytes = []
    inValue = false
  }
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]
    if (!inValue) {
      if (ch === '=') inValue = true
      else type += ch
      continue
    }
    if (ch === '\\' && i + 1 < dn.length) {
      const hex = dn.slice(i + 1, i + 3)
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16))
        i += 2
      } else {
        bytes.push(...Buffer.from(dn[i + 1], 'utf8'))
        i += 1
      }
    } else if (ch === ',' || ch === ';' || ch === '+') {
      flushAva()
      if (ch !== '+') {
        rdns.push(avas.sort())
        avas = []
      }
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'))
    }
  }
  if (inValue || type.trim() !== '') flushAva()
  if (avas.length > 0) rdns.push(avas.sort())
  return rdns.map((rdn) => rdn.join('+')).join(',')
}

/** Replace every {user} in a template; a function replacement so `$&` in a name stays literal. */
function fill (template: string, escaped: string): string {
  return template.replaceAll('{user}', () => escaped)
}

type Credentials = { user: string, password: string }

/** undefined: not Basic; a string: malformed Basic (the reason); else the credentials. */
function parseBasic (header: string | undefined): Credentials | string | undefined {
  if (header === undefined) return undefined
  const match = /^Basic(?:\s+(.*))?$/is.exec(header.trim())
  if (match === null) return undefined
  const token = (match[1] ?? '').trim()
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token) || token.length % 4 !== 0) return 'malformed Basic credentials'
  const decoded = Buffer.from(token, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return 'malformed Basic credentials'
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/** Valid credentials, no role: the auth plugin answers 403 (outcome.ts) and logs the name. */
function notInGroup (name: string): AuthResult {
  const refusal: AuthFailure = { failed: NOT_IN_GROUP, forbidden: true, name }
  return refusal
}

class DeadlineExceeded extends Error {}

/** Not this user, or not allowed in: the reason for the log (never the credentials). */
class Refused extends Error {}

interface ValidatedOptions {
  url: string
  /** The attribute {user} stands for (uid, sAMAccountName), when the template or filter says. */
  nameAttribute?: string
  timeoutMs: number
  mode: { kind: 'direct', template: string } | { kind: 'search', base: string, filter: string, bindDn?: string, bindPassword?: string }
  groups: Record<Role, Array<{ dn: string, normalized: string }>>
}

function validate (options: LdapOptions): ValidatedOptions {
  if (!/^ldaps?:\/\//i.test(options.url)) throw new Error('LDAP url must start with ldap:// or ldaps://')
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error('LDAP timeoutMs must be a positive number')
  const direct = options.userDnTemplate !== undefined
  const search = options.searchBase !== undefined || options.searchFilter !== undefined
  if (direct === search) throw new Error('LDAP needs either userDnTemplate (direct bind) or searchBase and searchFilter (search-then-bind), not both')
  let mode: ValidatedOptions['mode']
  if (direct) {
    if (!options.userDnTemplate!.includes('{user}')) throw new Error('LDAP userDnTemplate must contain {user}')
    mode = { kind: 'direct', template: options.userDnTemplate! }
  } else {
    if (options.searchBase === undefined || options.searchFilter === undefined) throw new Error('LDAP search-then-bind needs both searchBase and searchFilter')
    if (!options.searchFilter.includes('{user}')) throw new Error('LDAP searchFilter must contain {user}')
    if (options.bindDn !== undefined && (options.bindPassword === undefined || options.bindPassword === '')) {
      // An empty password would make the service bind an anonymous one.
      throw new Error('LDAP bindDn needs a non-empty bindPassword')
    }
    mode = { kind: 'search', base: options.searchBase, filter: options.searchFilter, bindDn: options.bindDn, bindPassword: options.bindPassword }
  }
  const groups = { viewer: [], operator: [] } as ValidatedOptions['groups']
  for (const role of ROLES) {
    for (const dn of options.groups[role] ?? []) groups[role].push({ dn, normalized: normalizeDn(dn) })
  }
  if (groups.viewer.length + groups.operator.length === 0) throw new Error('LDAP needs at least one group DN (groups.viewer or groups.operator)')
  const nameMatch = mode.kind === 'direct'
    ? /^\s*([A-Za-z][A-Za-z0-9-]*)\s*=\s*\{user\}\s*(?:,|$)/.exec(mode.template)
    : /\(\s*([A-Za-z][A-Za-z0-9-]*)\s*=\s*\{user\}\s*\)/.exec(mode.filter)
  return { url: options.url, timeoutMs, mode, groups, nameAttribute: nameMatch?.[1] }
}

function values (entry: Record<string, unknown> | undefined, attribute: string): string[] {
  if (entry === undefined) return []
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase())
  if (key === undefined) return []
  const value = entry[key]
  const list = Array.isArray(value) ? value : [value]
  return list.map((v) => Buffer.isBuffer(v) ? v.toString('utf8') : String(v))
}

/** Names as a case-ignoring directory attribute compares them: case and extra spaces ignored. */
function sameName (a: string, b: string): boolean {
  const norm = (s: string): string => s.trim().replace(/\s+/g, ' ').toLowerCase()
  return norm(a) === norm(b)
}

/** Directory answers (a result code) are not outages; anything else (socket, timeout) is. */
function isDirectoryAnswer (err: unknown): boolean {
  return err instanceof ResultCodeError
}

/** The provider, with how many credential checks went to the directory (the auth plugin's metric). */
export interface LdapProvider extends AuthProvider {
  readonly stats: { verifications: number }
}

export function createLdapProvider (options: LdapOptions, deps: LdapProviderDeps = {}): LdapProvider {
  const config = validate(options)
  const now = deps.now ?? Date.now
  const ttlMs = deps.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS
  const cacheMax = deps.cacheMaxEntries ?? DEFAULT_CACHE_MAX
  // The cache key: an HMAC of the whole header under a per-instance random key.
  const hmacKey = randomBytes(32)
  let cache = new VerificationCache<Identity>(cacheMax)
  const inFlight = new Map<string, Promise<AuthResult>>()
  const stats = { verifications: 0 }

  const cacheKey = (header: string): string => createHmac('sha256', hmacKey).update(header).digest('base64')

  async function isMember (client: Client, groupDn: string, userDn: string): Promise<boolean> {
    const dn = escapeFilterValue(userDn)
    try {
      const { searchEntries } = await client.search(groupDn, {
        scope: 'base',
        filter: `(|(member=${dn})(uniqueMember=${dn}))`,
        attributes: ['1.1']
      })
      return searchEntries.length > 0
    } catch (err) {
      // No such group, no right to read it: not a member by this path.
      if (isDirectoryAnswer(err)) return false
      throw err
    }
  }

  /** The user's memberOf values (normalized) and the naming attribute's values, read as the user. */
  async function readUser (client: Client, userDn: string): Promise<{ memberOf: Set<string>, names: string[] }> {
    const attributes = config.nameAttribute === undefined ? ['memberOf'] : ['memberOf', config.nameAttribute]
    try {
      const { searchEntries } = await client.search(userDn, { scope: 'base', filter: '(objectClass=*)', attributes })
      return {
        memberOf: new Set(values(searchEntries[0], 'memberOf').map(normalizeDn)),
        names: config.nameAttribute === undefined ? [] : values(searchEntries[0], config.nameAttribute)
      }
    } catch (err) {
      if (!isDirectoryAnswer(err)) throw err
      return { memberOf: new Set(), names: [] }
    }
  }

  async function roleOf (client: Client, userDn: string, memberOf: Set<string>): Promise<Role | undefined> {
    const inRole = async (role: Role): Promise<boolean> => {
      const groups = config.groups[role]
      if (groups.some((g) => memberOf.has(g.normalized))) return true
      const found = await Promise.all(groups.map(async (g) => await isMember(client, g.dn, userDn)))
      return found.includes(true)
    }
    if (await inRole('operator')) return 'operator'
    if (await inRole('viewer')) return 'viewer'
    return undefined
  }

  async function findUserDn (client: Client, user: string): Promise<string> {
    const mode = config.mode
    if (mode.kind === 'direct') return fill(mode.template, escapeDnValue(user))
    if (mode.bindDn !== undefined) {
      try {
        await client.bind(mode.bindDn, mode.bindPassword)
      } catch (err) {
        if (isDirectoryAnswer(err)) throw new Refused('LDAP service account bind failed')
        throw err
      }
    }
    const { searchEntries } = await client.search(mode.base, {
      scope: 'sub',
      filter: fill(mode.filter, escapeFilterValue(user)),
      attributes: ['1.1'],
      sizeLimit: 2
    })
    if (searchEntries.length === 0) throw new Refused('LDAP user not found')
    if (searchEntries.length > 1) throw new Refused('LDAP search found more than one entry for the user')
    return searchEntries[0].dn
  }

  async function exchange (client: Client, { user, password }: Credentials): Promise<AuthResult> {
    const userDn = await findUserDn(client, user)
    try {
      await client.bind(userDn, password)
    } catch (err) {
      if (err instanceof InvalidCredentialsError) throw new Refused('LDAP bind failed: invalid credentials')
      if (isDirectoryAnswer(err)) throw new Refused(`LDAP bind refused (${(err as ResultCodeError).code})`)
      throw err
    }
    const { memberOf, names } = await readUser(client, userDn)
    const role = await roleOf(client, userDn, memberOf)
    // The directory matched " ALICE" to alice: the audit log gets the directory's spelling.
    const name = names.find((n) => sameName(n, user)) ?? user
    if (role === undefined) return notInGroup(name)
    return { name, role, provider: 'ldap' }
  }

  async function verify (credentials: Credentials): Promise<AuthResult> {
    stats.verifications++
    const client = new Client({ url: config.url, timeout: config.timeoutMs, connectTimeout: config.timeoutMs })
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new DeadlineExceeded()), config.timeoutMs)
    })
    try {
      return await Promise.race([exchange(client, credentials), deadline])
    } catch (err) {
      if (err instanceof Refused) return { failed: err.message }
      if (isDirectoryAnswer(err)) return { failed: `LDAP error (${(err as ResultCodeError).code})` }
      // Socket errors, refused connections, time-outs: never the password in here.
      return { failed: LDAP_UNAVAILABLE }
    } finally {
      clearTimeout(timer)
      // Sends an unbind and destroys the socket, even mid-operation.
      client.unbind().catch(() => {})
    }
  }

  return {
    name: 'ldap',
    challenge: CHALLENGE,
    stats,
    async authenticate (request: FastifyRequest): Promise<AuthResult> {
      const header = request.headers.authorization
      const credentials = parseBasic(header)
      if (credentials === undefined) return undefined
      if (typeof credentials === 'string') return { failed: credentials }
      if (credentials.user === '') return { failed: 'empty user name refused' }
      if (credentials.password === '') return { failed: 'empty password refused' }
      if (credentials.user.length > MAX_USER_LENGTH || credentials.password.length > MAX_PASSWORD_LENGTH) {
        return { failed: 'credentials too long' }
      }

      const key = cacheKey(header!)
      const cached = cache.get(key, now())
      if (cached !== undefined) return { ...cached }
      let pending = inFlight.get(key)
      if (pending === undefined) {
        pending = verify(credentials).then((result) => {
          if (ttlMs > 0 && result !== undefined && !('failed' in result)) cache.set(key, result, now() + ttlMs)
          return result
        }).finally(() => inFlight.delete(key))
        inFlight.set(key, pending)
      }
      const result = await pending
      return result === undefined || 'failed' in result ? result : { ...result }
    },
    async close (): Promise<void> {
      cache = new VerificationCache<Identity>(cacheMax)
    }
  }
}
