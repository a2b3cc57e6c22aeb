import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { hostname, networkInterfaces } from 'node:os'
import { dirname, resolve } from 'node:path'
import { ConfigError } from '../drivers/errors.js'
import { firstSchemaError, readConfigFile, readJsonFile } from './config-file.js'
import { DEFAULT_EMULATOR_CONFIG } from './paths.js'
import { resolveAuth } from './auth-config.js'
import { resolvePollConfig } from '../monitoring/poll-config.js'
import { parseShard, parseShardUrls, type ShardSettings } from './shard.js'
import { resolveMqttConfig } from '../monitoring/mqtt-config.js'
import { OpenDcreConfigFileSchema, type OpenDcreConfigFile, HARDWARE_TYPES, type HardwareType, type BusSelection, type TlsFiles, type OpenDcreConfig, type ServiceLimits, DEFAULT_LIMITS, type AuthConfig, type ConfigOptions, API_VERSION } from './config-schema.js'

export * from './config-schema.js'

function loadConfigFile (file: string): OpenDcreConfigFile {
  const value = readJsonFile(file)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(file, '', 'must be a JSON object')
  const error = firstSchemaError(OpenDcreConfigFileSchema, value)
  if (error !== undefined) throw new ConfigError(file, error[0], error[1])
  return value as OpenDcreConfigFile
}

function hostMacAddress (): string {
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
  const listen = resolveListen(options.host ?? file.host, auth)
  return {
    ...listen,
    corsOrigins: file.cors_origins ?? [],
    allowedHosts: (file.allowed_hosts ?? []).map((name) => name.toLowerCase()),
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
    fleetQueryUrl: resolveFleetQueryUrl(options, file, options.config ?? 'opendcre_config.json'),
    shard: resolveShard(options, file, options.config ?? 'opendcre_config.json'),
    // monitoring by default: the embedded default polls everything; BMCs and Redfish servers are polled whenever
    // configured, a named device bus only when asked (v1.2 traffic); --poll, --no-poll and the file's poll key decide over both
    poll: resolvePollConfig(file.poll, options.poll ?? (file.poll === undefined && options.pollEmbedded === true ? true : undefined),
      options.poll === undefined && file.poll === undefined && (bmcConfig !== undefined || redfishConfig !== undefined) ? ['ipmi', 'redfish'] : undefined),
    mqtt: resolveMqttConfig(file.mqtt)
  }
}

function resolveFleetQueryUrl (options: ConfigOptions, file: OpenDcreConfigFile, where: string): string | undefined {
  const url = options.fleetQueryUrl ?? file.fleet_query_url
  if (url === undefined) return undefined
  try {
    if (!/^https?:$/.test(new URL(url).protocol)) throw new Error('not http(s)')
  } catch {
    throw new ConfigError(options.fleetQueryUrl !== undefined ? 'command line' : where, options.fleetQueryUrl !== undefined ? '--fleet-query-url' : 'fleet_query_url', `'${url}' is not an http:// or https:// URL`)
  }
  return url.replace(/\/+$/, '')
}

/** The shard from --shard/--shard-url, else the file's shard/shard_urls; none: this instance serves every board. */
function resolveShard (options: ConfigOptions, file: OpenDcreConfigFile, where: string): ShardSettings | undefined {
  const fromCli = options.shard !== undefined
  const text = options.shard ?? file.shard
  const host = options.hostname ?? hostname()
  const urls = options.shardUrls ?? file.shard_urls
  if (text === undefined) {
    if (urls !== undefined) throw new ConfigError(fromCli || options.shardUrls !== undefined ? 'command line' : where, options.shardUrls !== undefined ? '--shard-url' : 'shard_urls', 'names the shards\' URLs, but no shard is set')
    return undefined
  }
  const shard = parseShard(text, host, fromCli ? 'command line' : where, fromCli ? '--shard' : 'shard')
  if (urls === undefined) return shard
  const fromCliUrls = options.shardUrls !== undefined
  return { ...shard, urls: parseShardUrls(urls, shard.count, fromCliUrls ? 'command line' : where, fromCliUrls ? '--shard-url' : 'shard_urls') }
}

/**
 * Where to listen. Named (--host, or the config file's host): there. Not
 * named: with no authentication provider, loopback only (127.0.0.1 and
 * ::1), so that nothing beyond this machine can switch power; with one,
 * every address (0.0.0.0), as before.
 */
function resolveListen (host: string | undefined, auth: AuthConfig): Pick<OpenDcreConfig, 'host' | 'listenHosts' | 'hostExplicit'> {
  if (host !== undefined) return { host, listenHosts: [host], hostExplicit: true }
  if (Object.keys(auth).length > 0) return { host: '0.0.0.0', listenHosts: ['0.0.0.0'], hostExplicit: false }
  return { host: 'localhost', listenHosts: ['127.0.0.1', '::1'], hostExplicit: false }
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
    maxStreams: file.max_streams ?? DEFAULT_LIMITS.maxStreams,
    maxStreamsPerClient: file.max_streams_per_client ?? DEFAULT_LIMITS.maxStreamsPerClient,
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
