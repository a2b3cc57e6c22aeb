import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose'

/**
 * An OpenID Connect issuer's JWKS for the tests: a tiny node:http server on
 * 127.0.0.1 serving the public halves of keys generated with jose, and
 * tokens signed with them.
 */
export const ISSUER = 'https://idp.test/realms/dc'
export const AUDIENCE = 'opendcre'

export interface Key { kid: string, alg: string, privateKey: CryptoKey, publicKey: CryptoKey, jwk: JWK }

export async function makeKey (kid: string, alg: 'RS256' | 'ES256' | 'EdDSA'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg)
  return { kid, alg, privateKey, publicKey, jwk: { ...await exportJWK(publicKey), kid, alg, use: 'sig' } }
}

/** The JWKS server: its keys can change (rotation); it can stop answering (hang) or close (down). */
export class JwksServer {
  keys: Key[] = []
  hang = false
  fetches = 0
  private readonly server: Server = createServer((req, res) => {
    this.fetches++
    if (this.hang) return // never answers
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: this.keys.map((k) => k.jwk) }))
  })

  async start (): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/realms/dc/protocol/openid-connect/certs`
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

export async function sign (key: Key, claims: JWTPayload, options: { iss?: string, aud?: string, exp?: number | string, nbf?: number | string, kid?: string } = {}): Promise<string> {
  const jwt = new SignJWT({ sub: 'someone', ...claims })
    .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, typ: 'JWT' })
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(options.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(options.exp ?? '10m')
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf)
  return await jwt.sign(key.privateKey)
}
