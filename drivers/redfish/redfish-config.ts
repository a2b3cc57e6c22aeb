import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { Type, type Static } from '@sinclair/typebox'
import { ConfigError } from '../errors.js'
import { firstSchemaError, readJsonFile } from '../../config/config-file.js'

/**
 * redfish_config.json: the Redfish services, in board order (the n-th is
 * board 0x70000000 | n). `username`/`password` are optional: a service
 * without authentication (a mockup) is used as is. `ca` is a PEM file,
 * relative to the config file; `timeout_ms` bounds every call (default 3000).
 * `limits` bounds what any service can cost (docs/redfish.md, "Bounds"):
 * max_members (1000), max_chassis (64), concurrency (4),
 * command_timeout_ms (15000), reading_max_age_ms (1000).
 */
const TimeoutMs = Type.Integer({ minimum: 100, maximum: 60000, errorMessage: 'must be an integer from 100 to 60000 (milliseconds)' })

export const RedfishServerSchema = Type.Object({
  url: Type.String({ pattern: '^https?://[^/?#@\\s]+/?$', errorMessage: 'must be the service\'s http:// or https:// address (scheme, host and port only, no credentials)' }),
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 256, errorMessage: 'must be a non-empty string' })),
  password: Type.Optional(Type.String({ maxLength: 256, errorMessage: 'must be a string' })),
  verify_tls: Type.Optional(Type.Boolean({ errorMessage: 'must be true or false' })),
  ca: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a PEM file path' })),
  timeout_ms: Type.Optional(TimeoutMs)
}, { additionalProperties: false, errorMessage: 'a server takes {url[, username, password, verify_tls, ca, timeout_ms]}' })

const count = (max: number): ReturnType<typeof Type.Integer> => Type.Integer({ minimum: 1, maximum: max, errorMessage: `must be an integer from 1 to ${max}` })

export const RedfishLimitsSchema = Type.Object({
  max_members: Type.Optional(count(100_000)),
  max_chassis: Type.Optional(count(4096)),
  concurrency: Type.Optional(count(64)),
  command_timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, errorMessage: 'must be an integer from 100 to 600000 (milliseconds)' })),
  reading_max_age_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000, errorMessage: 'must be an integer from 0 to 600000 (milliseconds)' }))
}, { additionalProperties: false, errorMessage: 'limits takes {max_members, max_chassis, concurrency, command_timeout_ms, reading_max_age_ms}' })

export const RedfishConfigSchema = Type.Object({
  servers: Type.Array(RedfishServerSchema, { maxItems: 0xffff, errorMessage: 'must be a list of at most 65535 Redfish servers' }),
  timeout_ms: Type.Optional(TimeoutMs),
  limits: Type.Optional(RedfishLimitsSchema)
}, { additionalProperties: false, errorMessage: 'takes {servers[, timeout_ms, limits]}' })

export type RedfishConfigFile = Static<typeof RedfishConfigSchema>

/**
 * The bounds OpenDCRE keeps against any Redfish service (redfish_config.json
 * `limits`, docs/redfish.md): what it takes from a collection, how many
 * chassis it follows, how many requests it has in flight to one service,
 * and how long one whole command (a scan, a read, a power change) may take
 * besides each call's own timeout_ms.
 */
export interface RedfishLimits {
  /** Members taken from one collection (Systems, Sensors, log entries); the rest are left out and logged. */
  maxMembers: number
  /** Chassis followed per service. */
  maxChassis: number
  /** Requests in flight to one service at once. */
  concurrency: number
  /** One command's whole time (ms). */
  commandTimeoutMs: number
  /** How long one reading of a Sensors collection, Thermal, Power or system serves further reads (ms): a poll cycle's reads share it. */
  readingMaxAgeMs: number
}

export const DEFAULT_REDFISH_LIMITS: RedfishLimits = {
  maxMembers: 1000,
  maxChassis: 64,
  concurrency: 4,
  commandTimeoutMs: 15_000,
  readingMaxAgeMs: 1000
}

/** One Redfish service, validated and resolved. */
export interface RedfishServerConfig {
  /** scheme://host[:port], no trailing slash. */
  url: string
  credentials?: { username: string, password: string }
  verifyTls: boolean
  /** The CA certificates (PEM) the service's certificate must chain to. */
  ca?: Buffer
  timeoutMs: number
  /** The file's limits, defaults filled in. */
  limits: RedfishLimits
}

/** redfish_config.json's `limits` with the defaults filled in. */
export function redfishLimits (file: RedfishConfigFile['limits'] = {}): RedfishLimits {
  return {
    maxMembers: file.max_members ?? DEFAULT_REDFISH_LIMITS.maxMembers,
    maxChassis: file.max_chassis ?? DEFAULT_REDFISH_LIMITS.maxChassis,
    concurrency: file.concurrency ?? DEFAULT_REDFISH_LIMITS.concurrency,
    commandTimeoutMs: file.command_timeout_ms ?? DEFAULT_REDFISH_LIMITS.commandTimeoutMs,
    readingMaxAgeMs: file.reading_max_age_ms ?? DEFAULT_REDFISH_LIMITS.readingMaxAgeMs
  }
}

export const DEFAULT_REDFISH_TIMEOUT_MS = 3000

/** The servers of a redfish_config.json; errors name the file, the field and the reason, never a password. */
export function loadRedfishConfig (file: string): RedfishServerConfig[] {
  const value = readJsonFile(file)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(file, '', 'must be a JSON object with a "servers" list')
  if (!('servers' in value)) throw new ConfigError(file, 'servers', 'missing: list the Redfish servers under "servers"')
  const error = firstSchemaError(RedfishConfigSchema, value)
  if (error !== undefined) throw new ConfigError(file, error[0], error[1])
  const config = value as RedfishConfigFile
  const limits = redfishLimits(config.limits)
  return config.servers.map((s, i) => {
    const where = `servers[${i}]`
    if ((s.username === undefined) !== (s.password === undefined)) {
      throw new ConfigError(file, `${where}.${s.username === undefined ? 'username' : 'password'}`, 'username and password go together (leave both out for a service without authentication)')
    }
    let ca: Buffer | undefined
    if (s.ca !== undefined) {
      if (!s.url.startsWith('https:')) throw new ConfigError(file, `${where}.ca`, 'a CA certificate needs an https:// url')
      try {
        ca = readFileSync(resolve(dirname(resolve(file)), s.ca))
      } catch (err) {
        throw new ConfigError(file, `${where}.ca`, `cannot read the CA certificate (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
      }
    }
    return {
      url: s.url.replace(/\/$/, ''),
      credentials: s.username !== undefined ? { username: s.username, password: s.password ?? '' } : undefined,
      verifyTls: s.verify_tls ?? true,
      ca,
      timeoutMs: s.timeout_ms ?? config.timeout_ms ?? DEFAULT_REDFISH_TIMEOUT_MS,
      limits
    }
  })
}
