import { readFileSync } from 'node:fs'
import { networkInterfaces } from 'node:os'
import { dirname, resolve } from 'node:path'
import fp from 'fastify-plugin'
import { Type, type Static } from '@sinclair/typebox'
import { ConfigError } from '../drivers/errors.js'
import { firstSchemaError, readJsonFile } from '../drivers/emulator/emulator-config.js'
import { DEFAULT_EMULATOR_CONFIG } from './paths.js'
import type { BasicOptions, JwtOptions, LdapOptions } from './auth/provider.js'
import { PollConfigFileSchema, resolvePollConfig, type PollConfig } from '../drivers/poller/poll-config.js'

/**
 * opendcre_config.json: the v1.2 keys, validated like the emulator config.
 * `lockfile` is accepted and ignored (transactions are queued in-process).
 */
export const OpenDcreConfigFileSchema = Type.Object({
  endpoint_prefix: Type.Optional(Type.String({ pattern: '^/', errorMessage: "must be a path starting with '/'" })),
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, errorMessage: 'must be a port number (0-65535)' })),
  lockfile: Type.Optional(Type.String()),
  serial_default: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a device path' })),
  bus_baud: Type.Optional(Type.Integer({ minimum: 1, errorMessage: 'must be a positive integer' })),
  ssl_enable: Type.Optional(Type.Boolean({ errorMessage: 'must be true or false' })),
  ssl_cert: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a file path' })),
  ssl_key: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a file path' })),
  ssl_ca: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a file path' })),
  retry_limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 20, errorMessage: 'must be an integer from 0 to 20' })),
  time_slice: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, errorMessage: 'must be an integer from 0 to 255' })),
  bmc_config: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a file path' })),
  read_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 60000, errorMessage: 'must be an integer from 1 to 60000' })),
  poll: Type.Optional(PollConfigFileSchema),
  auth: Type.Optional(Type.Object({
    users_file: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a file path' })),
    jwt: Type.Optional(Type.Object({
      jwks_url: Type.String({ pattern: '^https?://', errorMessage: 'must be an https:// URL' }),
      issuer: Type.String({ minLength: 1, errorMessage: 'must be the issuer (iss) tokens carry' }),
      audience: Type.String({ minLength: 1, errorMessage: 'must be the audience (aud) tokens carry' }),
      role_claim: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a claim name' })),
      viewer_values: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { errorMessage: 'must be a list of claim values' })),
      operator_values: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { errorMessage: 'must be a list of claim values' }))
    }, { additionalProperties: false, errorMessage: 'auth.jwt takes {jwks_url, issuer, audience[, role_claim, viewer_values, operator_values]}' })),
    ldap: Type.Optional(Type.Object({
      url: Type.String({ pattern: '^ldaps?://', errorMessage: 'must be an ldap:// or ldaps:// URL' }),
      user_dn_template: Type.Optional(Type.String({ pattern: '\\{user\\}', errorMessage: 'must contain {user}' })),
      search_base: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a DN' })),
      search_filter: Type.Optional(Type.String({ pattern: '\\{user\\}', errorMessage: 'must contain {user}' })),
      bind_dn: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a DN' })),
      viewer_groups: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { errorMessage: 'must be a list of group DNs' })),
      operator_groups: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { errorMessage: 'must be a list of group DNs' })),
      timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 60000, errorMessage: 'must be an integer from 1 to 60000' }))
    }, { additionalProperties: false, errorMessage: 'auth.ldap takes {url, user_dn_template | search_base + search_filter [+ bind_dn], viewer_groups, operator_groups[, timeout_ms]}' }))
  }, { additionalProperties: false, errorMessage: 'auth takes {users_file, jwt, ldap}' }))
})

export type OpenDcreConfigFile = Static<typeof OpenDcreConfigFileSchema>

export const HARDWARE_TYPES = ['emulator', 'rpi-hat-v1'] as const
export type HardwareType = typeof HARDWARE_TYPES[number]

export type BusSelection =
  | { kind: 'emulator', file: string }
  | { kind: 'serial', device: string }

/** What the service runs with, after defaults, config file and command line. */
export interface OpenDcreConfig {
  host: string
  port: number
  endpointPrefix: string
  apiVersion: string
  retryLimit: number
  timeSlice: number
  busBaud: number
  readTimeoutMs: number
  serialDefault: string
  sslEnable: boolean
  /** HTTPS: certificate and key files; a CA file turns on client certificates (mutual TLS). */
  tls?: { cert: string, key: string, ca?: string }
  bus: BusSelection
  /** emulator (any bus, the default) or rpi-hat-v1 (the HAT's modem is set up at startup). */
  hardware: HardwareType
  bmcConfig?: string
  /** No backend named: the IPMI bridge runs on two in-process emulated BMCs (plugins/embedded-bmc.ts). */
  embeddedBmcs: boolean
  /** The host MAC address that seeds the scan-all board id. */
  macAddress: string
  configFile?: string
  /** Authentication providers; none configured: the API is open, as v1.2's was. */
  auth: AuthConfig
  /** The shared poller (docs/monitoring.md): schedule, bounds, history. */
  poll: PollConfig
}

/** The configured authentication providers, asked in this order: basic, jwt, ldap. */
export interface AuthConfig {
  basic?: BasicOptions
  jwt?: JwtOptions
  ldap?: LdapOptions
}

/** What the command line (or fastify-cli's plugin options) may set. */
export interface ConfigOptions {
  host?: string
  port?: number
  emulator?: string
  serial?: string
  config?: string
  bmcConfig?: string
  /** The CLI's `serve` with no backend named: emulated BMCs beside the device-bus emulator. */
  embeddedBmcs?: boolean
  readTimeoutMs?: number
  hardware?: string
  tlsCert?: string
  tlsKey?: string
  tlsCa?: string
  /** HTTP Basic against this users file (`opendcre user add` writes it). */
  usersFile?: string
  /** Bearer JWTs: the issuer's JWKS URL, its iss, the aud tokens must carry, the role claim. */
  jwksUrl?: string
  jwtIssuer?: string
  jwtAudience?: string
  jwtRoleClaim?: string
  /** LDAP: the server, a bind DN template or search base + filter, groups per role. */
  ldapUrl?: string
  ldapUserDn?: string
  ldapSearchBase?: string
  ldapSearchFilter?: string
  ldapBindDn?: string
  /** Run the poller (true/false), whatever opendcre_config.json's `poll` says; unset: the file decides (off without a `poll` key). */
  poll?: boolean
  /** The embedded default (the CLI with no --emulator/--serial): the poller runs unless the file's poll key says otherwise. */
  pollEmbedded?: boolean
  /** The search account's password: from $OPENDCRE_LDAP_BIND_PASSWORD, never a flag or the config file. */
  ldapBindPassword?: string
  ldapViewerGroups?: string[]
  ldapOperatorGroups?: string[]
}

export const API_VERSION = '1.2'
export const OPENDCRE_VERSION = '1.2.0'

export function loadConfigFile (file: string): OpenDcreConfigFile {
  const value = readJsonFile(file)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(file, '', 'must be a JSON object')
  const error = firstSchemaError(OpenDcreConfigFileSchema, value)
  if (error !== undefined) throw new ConfigError(file, error[0], error[1])
  return value as OpenDcreConfigFile
}

export function hostMacAddress (): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (!address.internal && address.mac !== '00:00:00:00:00:00') return address.mac
    }
  }
  return '00:00:00:00:00:00'
}

export function resolveConfig (options: ConfigOptions = {}): OpenDcreConfig {
  const file = options.config !== undefined ? loadConfigFile(options.config) : {}
  const base = options.config !== undefined ? dirname(resolve(options.config)) : process.cwd()
  if (options.emulator !== undefined && options.serial !== undefined) {
    throw new ConfigError('command line', '', 'choose one of --emulator and --serial')
  }
  const hardware = options.hardware ?? 'emulator'
  if (!(HARDWARE_TYPES as readonly string[]).includes(hardware)) {
    throw new ConfigError('command line', 'hardware', `'${hardware}' is not one of ${HARDWARE_TYPES.join(', ')}`)
  }
  if (hardware === 'rpi-hat-v1' && options.emulator !== undefined) {
    throw new ConfigError('command line', 'hardware', 'rpi-hat-v1 drives a serial device, not the emulator')
  }
  const serial = options.serial ?? (hardware === 'rpi-hat-v1' ? file.serial_default ?? '/dev/ttyAMA0' : undefined)
  const bus: BusSelection = serial !== undefined
    ? { kind: 'serial', device: serial }
    : { kind: 'emulator', file: options.emulator ?? DEFAULT_EMULATOR_CONFIG }
  const bmcConfig = options.bmcConfig ?? (file.bmc_config !== undefined ? resolve(base, file.bmc_config) : undefined)
  const tls = resolveTls(options, file, base, options.config)
  const auth = resolveAuth(options, file, base, options.config ?? 'opendcre_config.json')
  return {
    host: options.host ?? '0.0.0.0',
    port: options.port ?? file.port ?? 5000,
    endpointPrefix: (file.endpoint_prefix ?? '/opendcre/').replace(/\/+$/, ''),
    apiVersion: API_VERSION,
    retryLimit: file.retry_limit ?? 3,
    timeSlice: file.time_slice ?? 75,
    busBaud: file.bus_baud ?? 115200,
    readTimeoutMs: options.readTimeoutMs ?? file.read_timeout_ms ?? 250,
    serialDefault: file.serial_default ?? '/dev/ttyAMA0',
    sslEnable: tls !== undefined,
    tls,
    bus,
    hardware: hardware as HardwareType,
    bmcConfig,
    embeddedBmcs: options.embeddedBmcs === true && bmcConfig === undefined && bus.kind === 'emulator',
    macAddress: hostMacAddress(),
    configFile: options.config,
    auth,
    poll: resolvePollConfig(file.poll, options.poll ?? (file.poll === undefined && options.pollEmbedded === true ? true : undefined))
  }
}

const isLoopbackHost = (host: string): boolean => host === 'localhost' || host === '[::1]' || host.startsWith('127.')

/**
 * Authentication from the command line or opendcre_config.json's `auth` key;
 * for each provider, the command line's settings replace the file's. Nothing
 * configured: no authentication (v1.2's behaviour).
 */
function resolveAuth (options: ConfigOptions, file: OpenDcreConfigFile, base: string, where: string): AuthConfig {
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
function resolveTls (options: ConfigOptions, file: OpenDcreConfigFile, base: string, configFile?: string): OpenDcreConfig['tls'] {
  const fromCli = options.tlsCert !== undefined || options.tlsKey !== undefined || options.tlsCa !== undefined
  if (fromCli) {
    if (options.tlsCert === undefined || options.tlsKey === undefined) {
      throw new ConfigError('command line', 'tls', '--tls-cert and --tls-key go together')
    }
    return { cert: options.tlsCert, key: options.tlsKey, ca: options.tlsCa }
  }
  if (file.ssl_enable !== true) return undefined
  const where = configFile ?? 'opendcre_config.json'
  if (file.ssl_cert === undefined) throw new ConfigError(where, 'ssl_cert', 'ssl_enable is true: name the certificate file')
  if (file.ssl_key === undefined) throw new ConfigError(where, 'ssl_key', 'ssl_enable is true: name the key file')
  return {
    cert: resolve(base, file.ssl_cert),
    key: resolve(base, file.ssl_key),
    ca: file.ssl_ca !== undefined ? resolve(base, file.ssl_ca) : undefined
  }
}

/** The files of a TLS configuration, read; errors name the file. */
export function readTlsFiles (tls: NonNullable<OpenDcreConfig['tls']>): { cert: Buffer, key: Buffer, ca?: Buffer } {
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path)
    } catch (err) {
      throw new ConfigError(path, '', `cannot read the TLS ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
    }
  }
  return { cert: read(tls.cert, 'certificate'), key: read(tls.key, 'key'), ca: tls.ca !== undefined ? read(tls.ca, 'CA certificate') : undefined }
}

declare module 'fastify' {
  interface FastifyInstance {
    config: OpenDcreConfig
  }
}

/** Decorates the instance with the resolved, validated configuration. */
export default fp<{ config: OpenDcreConfig }>(async (fastify, opts) => {
  fastify.decorate('config', opts.config)
}, { name: 'config', fastify: '5.x' })
