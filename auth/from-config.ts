import type { AuthConfig } from '../config/service-config.js'
import { createBasicProvider } from './basic.js'
import type { AuthProvider, JwtOptions, LdapOptions } from './provider.js'

/** The providers a configuration names, in order: the users file, JWT, LDAP. */
export async function createProviders (auth: AuthConfig): Promise<AuthProvider[]> {
  const providers: AuthProvider[] = []
  if (auth.basic !== undefined) providers.push(createBasicProvider(auth.basic))
  if (auth.jwt !== undefined) providers.push(await jwtProvider(auth.jwt))
  if (auth.ldap !== undefined) providers.push(await ldapProvider(auth.ldap))
  return providers
}

/** jose is loaded only when JWT is configured (an open service keeps its memory). */
async function jwtProvider (options: JwtOptions): Promise<AuthProvider> {
  const { createJwtProvider } = await import('./jwt.js')
  return createJwtProvider(options)
}

/** ldapts is loaded only when LDAP is configured. */
async function ldapProvider (options: LdapOptions): Promise<AuthProvider> {
  const { createLdapProvider } = await import('./ldap.js')
  return createLdapProvider(options)
}

/** What the startup log line says about authentication: providers and their public settings, never a secret. */
export function describeAuth (auth: AuthConfig): Record<string, unknown> | 'off' {
  const out: Record<string, unknown> = {}
  if (auth.basic !== undefined) out.basic = { users_file: auth.basic.usersFile }
  if (auth.jwt !== undefined) {
    const url = new URL(auth.jwt.jwksUrl)
    url.username = ''
    url.password = ''
    url.search = ''
    out.jwt = { jwks_url: url.toString(), issuer: auth.jwt.issuer, audience: auth.jwt.audience, role_claim: auth.jwt.roleClaim ?? 'role' }
  }
  if (auth.ldap !== undefined) {
    const l = auth.ldap
    out.ldap = {
      url: l.url,
      ...(l.userDnTemplate !== undefined ? { user_dn_template: l.userDnTemplate } : { search_base: l.searchBase, search_filter: l.searchFilter, bind_dn: l.bindDn ?? null }),
      groups: l.groups
    }
  }
  return Object.keys(out).length === 0 ? 'off' : out
}
