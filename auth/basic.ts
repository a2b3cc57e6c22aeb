import { hash, randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { VerificationCache } from './verification-cache.js'
import type { AuthProvider, AuthResult, BasicOptions, Identity, Role } from './provider.js'
import { loadUsersFile, parseHash, verifyPassword, type ParsedHash } from './users-file.js'

interface BasicTuning {
  /** How long a successful verification is remembered (ms), default 60 s. */
  cacheTtlMs?: number
  /** At most this many remembered verifications, default 1000 (the oldest go first). */
  cacheMax?: number
  now?: () => number
}

interface BasicProvider extends AuthProvider {
  /** scrypt runs so far (tests and the metrics read it). */
  readonly stats: { verifications: number, cacheHits: number }
}

/** Longer Authorization values are refused before any decoding or hashing. */
const MAX_AUTHORIZATION_LENGTH = 4096
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/**
 * A hash of fixed parameters that no password matches: an unknown user costs
 * the same scrypt as a known one, so timing does not tell which names exist.
 */
const DUMMY_HASH: ParsedHash = parseHash(`scrypt$32768$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`)!

/**
 * HTTP Basic (RFC 7617) against the users file, read once at startup.
 *
 * scrypt costs ~0.1 s by design, so a successful verification is remembered
 * for a short time, keyed by a SHA-256 of a per-process random key and the
 * whole Authorization value (a keyed hash: the header itself is not kept, and
 * the digest alone does not allow a dictionary attack); the same client's
 * next requests cost that one hash (~1 µs; an HMAC object costs ~5 µs). Concurrent first requests with the
 * same header share one verification. Failures are never remembered.
 */
export function createBasicProvider (options: BasicOptions, tuning: BasicTuning = {}): BasicProvider {
  const users = loadUsersFile(options.usersFile)
  const now = tuning.now ?? Date.now
  const cache = new VerificationCache<Identity>(tuning.cacheMax ?? 1000)
  const ttl = tuning.cacheTtlMs ?? 60_000
  const hashKey = randomBytes(32).toString('base64')
  const inFlight = new Map<string, Promise<AuthResult>>()
  const stats = { verifications: 0, cacheHits: 0 }

  async function verify (name: string, password: string): Promise<AuthResult> {
    const user = users.get(name)
    stats.verifications++
    const ok = await verifyPassword(password, user?.hash ?? DUMMY_HASH)
    if (user === undefined) return { failed: 'Basic: unknown user' }
    if (!ok) return { failed: `Basic: wrong password for user '${name}'` }
    return { name, role: user.role as Role, provider: 'basic' }
  }

  return {
    name: 'basic',
    challenge: 'Basic realm="opendcre", charset="UTF-8"',
    stats,
    async authenticate (request: FastifyRequest): Promise<AuthResult> {
      const header = request.headers.authorization
      if (header === undefined || header.length < 6 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined
      if (header.length > MAX_AUTHORIZATION_LENGTH) return { failed: `Basic: Authorization header longer than ${MAX_AUTHORIZATION_LENGTH} characters` }
      const key = hash('sha256', `${hashKey}\n${header}`, 'base64')
      const cached = cache.get(key, now())
      if (cached !== undefined) {
        stats.cacheHits++
        return cached
      }
      const pending = inFlight.get(key)
      if (pending !== undefined) return await pending

      const encoded = header.slice(6).trim()
      if (encoded.length % 4 !== 0 || !BASE64.test(encoded)) return { failed: 'Basic: credentials are not base64' }
      const decoded = Buffer.from(encoded, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon < 0) return { failed: 'Basic: credentials without a colon between user and password' }
      const verification = verify(decoded.slice(0, colon), decoded.slice(colon + 1))
      inFlight.set(key, verification)
      try {
        const result = await verification
        if (result !== undefined && !('failed' in result)) cache.set(key, result, now() + ttl)
        return result
      } finally {
        inFlight.delete(key)
      }
    }
  }
}
