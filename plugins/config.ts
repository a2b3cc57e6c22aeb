import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import { dirname, resolve } from 'node:path'
import fp from 'fastify-plugin'
import { Type, type Static } from '@sinclair/typebox'
import { readConfigFile } from '../drivers/config-file.js'
import { ConfigError } from '../drivers/errors.js'
import { firstSchemaError, readJsonFile } from '../drivers/emulator/emulator-config.js'
import { DEFAULT_EMULATOR_CONFIG } from './paths.js'
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from '../http-server.js'
import type { BasicOptions, JwtOptions, LdapOptions } from './auth/provider.js'
import { resolveAuth } from './auth/auth-config.js'
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
  redfish_config: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a file path' })),
  read_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 60000, errorMessage: 'must be an integer from 1 to 60000' })),
  // limits (docs/hardening.md)
  max_connections: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000000, errorMessage: 'must be a positive integer' })),
  max_connections_per_client: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000000, errorMessage: 'must be a positive integer' })),
  headers_timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 600000, errorMessage: 'must be an integer from 100 to 600000' })),
  request_timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 600000, errorMessage: 'must be an integer from 100 to 600000' })),
  keep_alive_timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 600000, errorMessage: 'must be an integer from 100 to 600000' })),
  max_requests_per_socket: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000000, errorMessage: 'must be an integer, 0 for no limit' })),
  bus_queue_depth: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, errorMessage: 'must be a positive integer' })),
  bus_queue_wait_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 600000, errorMessage: 'must be an integer from 1 to 600000' })),
  bmc_queue_depth: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, errorMessage: 'must be a positive integer' })),
  bmc_queue_wait_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 600000, errorMessage: 'must be an integer from 1 to 600000' })),
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

/** HTTPS's files, and the names of the settings that gave them (for errors). */
export interface TlsFiles {
  cert: string
  key: string
  ca?: string
  fields?: { cert: string, key: string, ca: string }
}

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
  tls?: TlsFiles
  bus: BusSelection
  /** emulator (any bus, the default) or rpi-hat-v1 (the HAT's modem is set up at startup). */
  hardware: HardwareType
  bmcConfig?: string
  /** No backend named: the IPMI bridge runs on two in-process emulated BMCs (plugins/embedded-bmc.ts). */
  embeddedBmcs: boolean
  /** Redfish servers (redfish_config.json). */
  redfishConfig?: string
  /** The host MAC address that seeds the scan-all board id. */
  macAddress: string
  configFile?: string
  /** Authentication providers; none configured: the API is open, as v1.2's was. */
  auth: AuthConfig
  /** The shared poller (docs/monitoring.md): schedule, bounds, history. */
  poll: PollConfig
  /** Connection, request and queue bounds (docs/hardening.md). */
  limits: ServiceLimits
}

/** The service's bounds: HTTP connections and requests, and the queues of the bus and of each BMC. */
export interface ServiceLimits extends HttpLimits {
  /** Requests that may wait for the device bus; more are answered 503 at once. */
  busQueueDepth: number
  /** A request that waited this long for the device bus is answered 503. */
  busQueueWaitMs: number
  /** Requests that may wait for one BMC; more are answered 503 at once. */
  bmcQueueDepth: number
  /** A request that waited this long for its BMC is answered 503. */
  bmcQueueWaitMs: number
}

export const DEFAULT_LIMITS: ServiceLimits = {
  ...DEFAULT_HTTP_LIMITS,
  busQueueDepth: 128,
  // a serial line answers a scan in about a read timeout: 25 concurrent scans (v1.2's endurance suite) take ~6 s
  busQueueWaitMs: 10000,
  bmcQueueDepth: 32,
  bmcQueueWaitMs: 3000
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
  /** Redfish servers (redfish_config.json). */
  redfishConfig?: string
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
  /** --max-connections */
  maxConnections?: number
  /** Any bound, over the config file's (tests use short ones). */
  limits?: Partial<ServiceLimits>
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
  const redfishConfig = options.redfishConfig ?? (file.redfish_config !== undefined ? resolve(base, file.redfish_config) : undefined)
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
    redfishConfig,
    macAddress: hostMacAddress(),
    configFile: options.config,
    auth,
    limits: resolveLimits(options, file, options.config ?? 'opendcre_config.json'),
    poll: resolvePollConfig(file.poll, options.poll ?? (file.poll === undefined && options.pollEmbedded === true ? true : undefined))
  }
}

function resolveLimits (options: ConfigOptions, file: OpenDcreConfigFile, where: string): ServiceLimits {
  const limits: ServiceLimits = {
    maxConnections: options.maxConnections ?? file.max_connections ?? DEFAULT_LIMITS.maxConnections,
    maxConnectionsPerClient: file.max_connections_per_client ?? DEFAULT_LIMITS.maxConnectionsPerClient,
    headersTimeoutMs: file.headers_timeout_ms ?? DEFAULT_LIMITS.headersTimeoutMs,
    requestTimeoutMs: file.request_timeout_ms ?? DEFAULT_LIMITS.requestTimeoutMs,
    keepAliveTimeoutMs: file.keep_alive_timeout_ms ?? DEFAULT_LIMITS.keepAliveTimeoutMs,
    maxRequestsPerSocket: file.max_requests_per_socket ?? DEFAULT_LIMITS.maxRequestsPerSocket,
    busQueueDepth: file.bus_queue_depth ?? DEFAULT_LIMITS.busQueueDepth,
    busQueueWaitMs: file.bus_queue_wait_ms ?? DEFAULT_LIMITS.busQueueWaitMs,
    bmcQueueDepth: file.bmc_queue_depth ?? DEFAULT_LIMITS.bmcQueueDepth,
    bmcQueueWaitMs: file.bmc_queue_wait_ms ?? DEFAULT_LIMITS.bmcQueueWaitMs,
    ...options.limits
  }
  // Node refuses a headers bound longer than the whole request's
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new ConfigError(where, 'headers_timeout_ms', `must not exceed request_timeout_ms (${limits.requestTimeoutMs})`)
  }
  return limits
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
    return { cert: options.tlsCert, key: options.tlsKey, ca: options.tlsCa, fields: { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' } }
  }
  if (file.ssl_enable !== true) return undefined
  const where = configFile ?? 'opendcre_config.json'
  if (file.ssl_cert === undefined) throw new ConfigError(where, 'ssl_cert', 'ssl_enable is true: name the certificate file')
  if (file.ssl_key === undefined) throw new ConfigError(where, 'ssl_key', 'ssl_enable is true: name the key file')
  return {
    cert: resolve(base, file.ssl_cert),
    key: resolve(base, file.ssl_key),
    ca: file.ssl_ca !== undefined ? resolve(base, file.ssl_ca) : undefined,
    fields: { cert: 'ssl_cert', key: 'ssl_key', ca: 'ssl_ca' }
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/**
 * The files of a TLS configuration, read and checked at startup: a
 * certificate, a private key that matches it, and a CA file holding at least
 * one certificate (else every client's handshake would fail with no hint
 * why). Errors name the file, the setting and the reason, never the contents.
 */
export function readTlsFiles (tls: TlsFiles): { cert: Buffer, key: Buffer, ca?: Buffer } {
  const fields = tls.fields ?? { cert: 'tls.cert', key: 'tls.key', ca: 'tls.ca' }
  const cert = readConfigFile(tls.cert, fields.cert)
  const key = readConfigFile(tls.key, fields.key)
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(cert)
  } catch {
    throw new ConfigError(tls.cert, fields.cert, 'holds no certificate (PEM) that can be read')
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(key)
  } catch {
    throw new ConfigError(tls.key, fields.key, 'holds no private key (PEM, unencrypted) that can be read')
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError(tls.key, fields.key, `is not the key of the certificate in ${tls.cert}`)
  }
  if (tls.ca === undefined) return { cert, key }
  const ca = readConfigFile(tls.ca, fields.ca)
  const blocks = ca.toString('latin1').match(PEM_CERTIFICATE) ?? []
  if (blocks.length === 0) throw new ConfigError(tls.ca, fields.ca, 'holds no certificate (PEM): no client certificate could ever be accepted')
  blocks.forEach((block, i) => {
    try {
      // eslint-disable-next-line no-new
      new X509Certificate(block)
    } catch {
      throw new ConfigError(tls.ca as string, fields.ca, `certificate ${i + 1} of ${blocks.length} cannot be read`)
    }
  })
  return { cert, key, ca }
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
