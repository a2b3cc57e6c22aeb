import { resolve } from 'node:path'
import { ConfigError } from '../drivers/errors.js'
import { isLoopbackHost } from '../drivers/net.js'
import type { AuthConfig, ConfigOptions, OpenDcreConfigFile } from './config-schema.js'
import type { LdapOptions } from '../auth/provider.js'

/**
 * Authentication from the command line or opendcre_config.json's `auth` key;
 * for each provider, the command line's settings replace the file's. Nothing
 * configured: no authentication (v1.2's behaviour).
 */
export function resolveAuth (options: ConfigOptions, file: OpenDcreConfigFile, base: string, where: string): AuthConfig {
  const auth: AuthConfig = {}
  const fileAuth = file.auth ?? {}
  const usersFile = options.usersFile ?? (fileAuth.users_file !== undefined ? resolve(base, fileAuth.users_file) : undefined)
  if (usersFile !== undefined) auth.basic = { usersFile }

  const jwtFromCli = options.jwksUrl !== undefined || options.jwtIssuer !== undefined || options.jwtAudience !== undefined || options.jwtRoleClaim !== undefined
  if (jwtFromCli) {
    if (options.jwksUrl === undefined || options.jwtIssuer === undefined || options.jwtAudience === undefined) {
      throw new ConfigError('command line', 'jwt', '--jwks-url, --jwt-issuer and --jwt-audience go together')
    }
    auth.jwt = { jwksUrl: checkJwksUrl(options.jwksUrl, 'command line', 'jwks-url'), issuer: options.jwtIssuer, audience: options.jwtAudience, roleClaim: options.jwtRoleClaim }
  } else if (fileAuth.jwt !== undefined) {
    const j = fileAuth.jwt
    auth.jwt = {
      jwksUrl: checkJwksUrl(j.jwks_url, where, 'auth.jwt.jwks_url'),
      issuer: j.issuer,
      audience: j.audience,
      roleClaim: j.role_claim,
      roleValues: j.viewer_values !== undefined || j.operator_values !== undefined ? { viewer: j.viewer_values, operator: j.operator_values } : undefined
    }
  }

  const ldapFromCli = options.ldapUrl !== undefined || options.ldapUserDn !== undefined || options.ldapSearchBase !== undefined ||
    options.ldapSearchFilter !== undefined || options.ldapBindDn !== undefined || options.ldapViewerGroups !== undefined || options.ldapOperatorGroups !== undefined
  if (ldapFromCli) {
    auth.ldap = checkLdap({
      url: options.ldapUrl,
      userDnTemplate: options.ldapUserDn,
      searchBase: options.ldapSearchBase,
      searchFilter: options.ldapSearchFilter,
      bindDn: options.ldapBindDn,
      viewerGroups: options.ldapViewerGroups,
      operatorGroups: options.ldapOperatorGroups
    }, options.ldapBindPassword, 'command line', '--ldap-')
  } else if (fileAuth.ldap !== undefined) {
    const l = fileAuth.ldap
    auth.ldap = checkLdap({
      url: l.url,
      userDnTemplate: l.user_dn_template,
      searchBase: l.search_base,
      searchFilter: l.search_filter,
      bindDn: l.bind_dn,
      viewerGroups: l.viewer_groups,
      operatorGroups: l.operator_groups,
      timeoutMs: l.timeout_ms
    }, options.ldapBindPassword, where, 'auth.ldap.')
  }
  return auth
}

/** A JWKS over plain HTTP could be swapped by anyone on the path: https://, or http:// on loopback only. */
function checkJwksUrl (text: string, where: string, field: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ConfigError(where, field, `'${text}' is not a URL`)
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new ConfigError(where, field, 'must be an https:// URL (http:// only on loopback)')
  }
  return text
}

interface LdapSettings {
  url?: string
  userDnTemplate?: string
  searchBase?: string
  searchFilter?: string
  bindDn?: string
  viewerGroups?: string[]
  operatorGroups?: string[]
  timeoutMs?: number
}

function checkLdap (s: LdapSettings, bindPassword: string | undefined, where: string, prefix: string): LdapOptions {
  const cli = prefix.startsWith('--')
  const name = (cliName: string, fileName: string): string => cli ? `${prefix}${cliName}` : `${prefix}${fileName}`
  if (s.url === undefined) throw new ConfigError(where, name('url', 'url'), 'the LDAP server is missing')
  if (!/^ldaps?:\/\//.test(s.url)) throw new ConfigError(where, name('url', 'url'), 'must be an ldap:// or ldaps:// URL')
  const search = s.searchBase !== undefined || s.searchFilter !== undefined
  if (s.userDnTemplate !== undefined && search) {
    throw new ConfigError(where, name('user-dn', 'user_dn_template'), 'choose a DN template or search base + filter, not both')
  }
  if (s.userDnTemplate === undefined && !search) {
    throw new ConfigError(where, name('user-dn', 'user_dn_template'), 'name a DN template with {user}, or a search base and filter')
  }
  if (s.userDnTemplate !== undefined && !s.userDnTemplate.includes('{user}')) throw new ConfigError(where, name('user-dn', 'user_dn_template'), 'must contain {user}')
  if (search) {
    if (s.searchBase === undefined) throw new ConfigError(where, name('search-base', 'search_base'), 'a search filter needs a search base')
    if (s.searchFilter === undefined) throw new ConfigError(where, name('search-filter', 'search_filter'), 'a search base needs a search filter')
    if (!s.searchFilter.includes('{user}')) throw new ConfigError(where, name('search-filter', 'search_filter'), 'must contain {user}')
  }
  if (s.bindDn !== undefined && (bindPassword === undefined || bindPassword === '')) {
    throw new ConfigError(where, name('bind-dn', 'bind_dn'), 'the bind password comes from $OPENDCRE_LDAP_BIND_PASSWORD, which is not set')
  }
  if ((s.viewerGroups ?? []).length === 0 && (s.operatorGroups ?? []).length === 0) {
    throw new ConfigError(where, name('operator-group', 'operator_groups'), 'name at least one group whose members get a role')
  }
  return {
    url: s.url,
    userDnTemplate: s.userDnTemplate,
    searchBase: s.searchBase,
    searchFilter: s.searchFilter,
    bindDn: s.bindDn,
    bindPassword: s.bindDn !== undefined ? bindPassword : undefined,
    groups: { viewer: s.viewerGroups ?? [], operator: s.operatorGroups ?? [] },
    timeoutMs: s.timeoutMs
  }
}

/**
 * HTTPS from the command line (--tls-cert/--tls-key[/--tls-ca]) or from
 * opendcre_config.json: ssl_enable keeps its v1.2 meaning (serve TLS), with
 * ssl_cert/ssl_key[/ssl_ca] naming the files (relative to the config file).
 */
