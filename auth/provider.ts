import type { FastifyRequest } from 'fastify'

/**
 * Authentication providers: each turns a request's credentials into an
 * identity with a role, or says the credentials are not its kind. The auth
 * plugin (plugins/auth.ts) asks the configured providers in order.
 */

export const ROLES = ['viewer', 'operator'] as const
export type Role = typeof ROLES[number]

export interface Identity {
  /** The user's name as the audit log records it (user name, JWT subject, LDAP uid). */
  name: string
  role: Role
  /** Which provider vouched for it: 'basic', 'jwt', 'ldap'. */
  provider: string
}

/**
 * What a provider says about one request:
 *  - undefined: no credentials of this provider's kind (let the next provider look);
 *  - an Identity: authenticated;
 *  - { failed: reason }: credentials of this kind that are wrong (401). The
 *    reason goes to the log; it never contains the credentials.
 */
export type AuthResult = Identity | { failed: string } | undefined

export interface AuthProvider {
  readonly name: string
  /** The WWW-Authenticate challenge this provider answers to, e.g. 'Basic realm="opendcre"'. */
  readonly challenge: string
  authenticate: (request: FastifyRequest) => Promise<AuthResult>
  close?: () => Promise<void>
}

/** HTTP Basic against a users file of scrypt hashes (see basic.ts). */
export interface BasicOptions {
  usersFile: string
}

/** Bearer JWTs verified against an issuer's JWKS (see jwt.ts). */
export interface JwtOptions {
  /** The JWKS URL (https:// in production; http://127.0.0.1 in tests). */
  jwksUrl: string
  issuer: string
  audience: string
  /** The claim holding the role (default 'role'); a string or an array of strings. */
  roleClaim?: string
  /** Claim values that map to each role; by default the values 'viewer' and 'operator'. */
  roleValues?: Partial<Record<Role, string[]>>
}

/** LDAP / Active Directory: bind as the user, group membership maps to a role (see ldap.ts). */
export interface LdapOptions {
  /** ldap://host:port or ldaps://host:port */
  url: string
  /** Direct bind: a DN template with {user}, e.g. 'uid={user},ou=people,dc=example,dc=org'. */
  userDnTemplate?: string
  /** Search-then-bind (AD style): a service account finds the user's DN first. */
  searchBase?: string
  /** The search filter, {user} replaced (escaped), e.g. '(sAMAccountName={user})'. */
  searchFilter?: string
  bindDn?: string
  bindPassword?: string
  /** Group DNs whose members get each role; operator wins when a user is in both. */
  groups: Partial<Record<Role, string[]>>
  /** Upper bound for one LDAP exchange (ms), default 3000. */
  timeoutMs?: number
}
