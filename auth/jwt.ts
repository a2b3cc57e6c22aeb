import { hash, randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose'
import type { AuthOutcome } from './outcome.js'
import type { AuthProvider, Identity, JwtOptions, Role } from './provider.js'
import { VerificationCache } from './verification-cache.js'

/** Only asymmetric signatures: HS* with a public key as the secret and "none" never pass. */
const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']

interface JwtTuning {
  /** Upper bound for one JWKS fetch (ms), default 3000. */
  jwksTimeoutMs?: number
  /** Least time between two JWKS fetches for an unknown key id (ms), default 30 s (jose's). */
  jwksCooldownMs?: number
  /** Allowed clock skew for exp/nbf (s), default 30. */
  clockToleranceS?: number
  /** How long a verified token is remembered (ms), at most until its exp; default 60 s. */
  cacheTtlMs?: number
  cacheMax?: number
  now?: () => number
}

interface JwtProvider extends AuthProvider {
  readonly stats: { verifications: number, cacheHits: number }
  authenticate: (request: FastifyRequest) => Promise<AuthOutcome>
}

const CHALLENGE = 'Bearer realm="opendcre"'
const INVALID = `${CHALLENGE}, error="invalid_token"`

/** A claim by name, or by a dotted path into nested objects (Keycloak's realm_access.roles). */
function claim (payload: JWTPayload, name: string): unknown {
  if (name in payload) return payload[name]
  let value: unknown = payload
  for (const part of name.split('.')) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

/** The claim's values (a string, or an array of strings) mapped to a role; operator wins. */
function roleFromClaim (value: unknown, roleValues: Record<Role, string[]>): Role | undefined {
  const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
  if (values.some((v) => roleValues.operator.includes(v))) return 'operator'
  if (values.some((v) => roleValues.viewer.includes(v))) return 'viewer'
  return undefined
}

/**
 * Bearer tokens (RFC 6750): JWTs from an OAuth 2 / OpenID Connect issuer,
 * verified against its JWKS (fetched by jose, cached, refetched for an
 * unknown key id after the cooldown, so key rotation is picked up):
 * signature with an asymmetric algorithm, exp and nbf (30 s tolerance), iss
 * and aud. The role claim maps to a role; the subject is the identity.
 *
 * A verified token is remembered (keyed by a SHA-256 of a per-process random key and the token) for at most
 * cacheTtlMs and never past its exp, so a client's next requests skip the
 * signature check.
 */
export function createJwtProvider (options: JwtOptions, tuning: JwtTuning = {}): JwtProvider {
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), {
    timeoutDuration: tuning.jwksTimeoutMs ?? 3000,
    cooldownDuration: tuning.jwksCooldownMs ?? 30_000
  })
  const roleClaim = options.roleClaim ?? 'role'
  const roleValues: Record<Role, string[]> = {
    viewer: options.roleValues?.viewer ?? ['viewer'],
    operator: options.roleValues?.operator ?? ['operator']
  }
  const now = tuning.now ?? Date.now
  const ttl = tuning.cacheTtlMs ?? 60_000
  const cache = new VerificationCache<Identity>(tuning.cacheMax ?? 1000)
  const hashKey = randomBytes(32).toString('base64')
  const stats = { verifications: 0, cacheHits: 0 }

  async function verify (token: string): Promise<AuthOutcome> {
    stats.verifications++
    let payload: JWTPayload
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: JWT_ALGORITHMS,
        clockTolerance: tuning.clockToleranceS ?? 30,
        currentDate: new Date(now())
      }))
    } catch (err) {
      return failure(err)
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') return { failed: 'JWT: no subject (sub)', challenge: INVALID }
    const role = roleFromClaim(claim(payload, roleClaim), roleValues)
    if (role === undefined) {
      return { failed: `JWT: subject '${payload.sub}' has no role: claim '${roleClaim}' holds none of ${[...roleValues.viewer, ...roleValues.operator].join(', ')}`, forbidden: true, name: payload.sub }
    }
    return { name: payload.sub, role, provider: 'jwt' }
  }

  return {
    name: 'jwt',
    challenge: CHALLENGE,
    stats,
    async authenticate (request) {
      const header = request.headers.authorization
      if (header === undefined || header.length < 7 || header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined
      const token = header.slice(7).trim()
      if (token.length > 8192) return { failed: 'JWT: token longer than 8192 characters', challenge: INVALID }
      const key = hash('sha256', `${hashKey}\n${token}`, 'base64')
      const cached = cache.get(key, now())
      if (cached !== undefined) {
        stats.cacheHits++
        return cached
      }
      const result = await verify(token)
      if (result !== undefined && !('failed' in result)) {
        const exp = decodedExp(token)
        cache.set(key, result, Math.min(now() + ttl, exp !== undefined ? exp * 1000 : Infinity))
      }
      return result
    }
  }
}

/** The exp of a token that has just been verified (so its payload is well formed). */
function decodedExp (token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as JWTPayload
    return typeof payload.exp === 'number' ? payload.exp : undefined
  } catch {
    return undefined
  }
}

/** Why a token failed, for the log; never the token. */
function failure (err: unknown): AuthOutcome {
  if (err instanceof errors.JWKSTimeout) return { failed: 'JWT: the issuer\'s JWKS did not answer in time' }
  if (err instanceof errors.JWTExpired) return { failed: 'JWT: expired', challenge: INVALID }
  if (err instanceof errors.JWTClaimValidationFailed) return { failed: `JWT: claim ${err.claim} ${err.reason === 'check_failed' ? 'not accepted' : err.reason}: ${err.message}`, challenge: INVALID }
  if (err instanceof errors.JOSEAlgNotAllowed) return { failed: 'JWT: signature algorithm not allowed', challenge: INVALID }
  if (err instanceof errors.JWSSignatureVerificationFailed) return { failed: 'JWT: signature does not verify', challenge: INVALID }
  if (err instanceof errors.JWKSNoMatchingKey) return { failed: 'JWT: no key of the issuer\'s JWKS matches the token', challenge: INVALID }
  if (err instanceof errors.JOSEError) return { failed: `JWT: ${err.code}: ${err.message}`, challenge: INVALID }
  // fetch errors: the JWKS is unreachable; the token may well be fine
  const cause = (err as Error & { cause?: Error }).cause
  return { failed: `JWT: cannot fetch the issuer's JWKS (${cause?.message ?? (err as Error).message})` }
}
