import type { AuthResult } from './provider.js'

/**
 * What a provider may add to a `{ failed }` result (provider.ts's AuthResult
 * stays the contract; these fields are optional and the auth plugin reads them):
 *  - challenge: this provider's WWW-Authenticate challenge for this failure,
 *    e.g. 'Bearer realm="opendcre", error="invalid_token"' (RFC 6750 §3);
 *  - forbidden + name: the credentials are valid but carry no role (a JWT
 *    without the role claim, an LDAP user in no configured group): 403, not
 *    401, since sending them again cannot help; name goes to the audit log.
 */
export interface AuthFailure {
  failed: string
  challenge?: string
  forbidden?: boolean
  name?: string
}

export type AuthOutcome = AuthResult | AuthFailure
