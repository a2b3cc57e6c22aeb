import { Type, type Static } from '@sinclair/typebox'
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from '../http/http-server.js'
import type { BasicOptions, JwtOptions, LdapOptions } from '../auth/provider.js'
import { PollConfigFileSchema, type PollConfig } from '../monitoring/poll-config.js'
import type { ShardSettings } from './shard.js'
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
  shard: Type.Optional(Type.String({ pattern: '^\\s*\\d+(/\\d+)?\\s*$', errorMessage: "must be 'i/N' (this shard of N) or 'N' (the index from the host name's ordinal)" })),
  shard_urls: Type.Optional(Type.Array(Type.String({ pattern: '^https?://', errorMessage: 'must be an http:// or https:// URL' }), { minItems: 1, errorMessage: "must be a list of the shards' URLs, in shard order" })),
  fleet_query_url: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', errorMessage: 'must be the http:// or https:// base URL of a Prometheus-compatible query API' })),
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
  // streams and the browser boundary (docs/security.md)
  max_streams: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, errorMessage: 'must be a positive integer' })),
  max_streams_per_client: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, errorMessage: 'must be a positive integer' })),
  host: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\s/]+$', errorMessage: 'must be an address or host name to listen on' })),
  cors_origins: Type.Optional(Type.Array(Type.String({ pattern: '^(\\*|https?://[^/\\s]+)$', errorMessage: "must be an origin (scheme://host[:port], no path) or '*'" }), { maxItems: 100, errorMessage: "must be a list of origins ('https://ops.example.com', scheme://host[:port], no path) or '*'" })),
  allowed_hosts: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9.:\\[\\]_-]+$', errorMessage: 'must be a host name or address' }), { maxItems: 100, errorMessage: "must be a list of host names or addresses ('opendcre.example.com')" })),
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
  /** The address to listen on; 'localhost' (the default with no authentication) means 127.0.0.1 and ::1. */
  host: string
  /** Every address listened on: [127.0.0.1, ::1] by default with no authentication, else [host]. */
  listenHosts: string[]
  /** Whether `host` was named (--host or the config file's host), not the default. */
  hostExplicit: boolean
  /** Origins whose pages may read answers (CORS) and send state changes; '*' lets any page read, never change. */
  corsOrigins: string[]
  /** Host header values answered besides localhost and loopback addresses (behind a proxy). */
  allowedHosts: string[]
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
  /** This instance's share of a sharded inventory (config/shard.ts); unset: it serves every board. */
  shard?: ShardSettings
  /** A Prometheus-compatible query API holding every shard's series: the dashboard's fleet page lists the data center from it. */
  fleetQueryUrl?: string
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
  /** Open event streams in all; more are answered 503 with Retry-After. */
  maxStreams: number
  /** Open event streams from one client address; more are answered 503 with Retry-After. */
  maxStreamsPerClient: number
}

export const DEFAULT_LIMITS: ServiceLimits = {
  ...DEFAULT_HTTP_LIMITS,
  busQueueDepth: 128,
  // a serial line answers a scan in about a read timeout: 25 concurrent scans (v1.2's endurance suite) take ~6 s
  busQueueWaitMs: 10000,
  bmcQueueDepth: 32,
  bmcQueueWaitMs: 3000,
  maxStreams: 256,
  // well below maxConnectionsPerClient: a client at its stream cap still has connections for requests
  maxStreamsPerClient: 8
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
  /** --shard: 'i/N', or 'N' with the index from the host name's ordinal. */
  shard?: string
  /** --shard-url (repeated): each shard's URL, in shard order. */
  shardUrls?: string[]
  /** --fleet-query-url: the data center's Prometheus-compatible query API. */
  fleetQueryUrl?: string
  /** The host name a shard's ordinal is read from (default os.hostname(); tests set it). */
  hostname?: string
  /** Any bound, over the config file's (tests use short ones). */
  limits?: Partial<ServiceLimits>
}

export const API_VERSION = '1.2'
export const OPENDCRE_VERSION = '1.2.0'
