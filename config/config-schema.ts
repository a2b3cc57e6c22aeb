import { Type, type Static } from '@sinclair/typebox'
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from '../http/http-server.js'
import type { BasicOptions, JwtOptions, LdapOptions } from '../auth/provider.js'
import { PollConfigFileSchema, type PollConfig } from '../monitoring/poll-config.js'
import { MqttConfigFileSchema, type MqttConfig } from '../monitoring/mqtt-config.js'

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
  mqtt: Type.Optional(MqttConfigFileSchema),
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
  /** Alerts and board states published to an MQTT broker (docs/monitoring.md); absent: none. */
  mqtt?: MqttConfig
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
