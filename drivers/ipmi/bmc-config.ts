import { Type, type Static } from '@sinclair/typebox'
import { ConfigError } from '../errors.js'
import { CIPHER_SUITES } from './rmcp/index.js'
import { firstSchemaError, readJsonFile } from '../../config/config-file.js'
import {
  algorithmConflict, AUTH_ALGORITHMS, CONFIDENTIALITY_ALGORITHMS, INTEGRITY_ALGORITHMS,
  type Algorithms, type AuthAlgorithm, type BmcTarget, type ConfidentialityAlgorithm, type IntegrityAlgorithm
} from './types.js'

/**
 * bmc_config.json (the seeds' IPMI Bridge section): a list of BMCs, each with
 * its address, credentials and RMCP+ algorithms. `bmc_port` (not in v1.2)
 * picks a UDP port other than 623, so several simulators can share an address.
 * `boot_valid_bit` (not in v1.2): 'ignore' for a BMC that never sets the boot
 * flags' valid bit (ipmi_sim), so the stored boot device is reported anyway.
 * `timeout_ms` (not in v1.2), for all BMCs or one: the bound for a request
 * (default 3000).
 * `cipher_suite` (not in v1.2): 0, 1, 2, 3 or 17 in place of the three
 * algorithm names. An entry that names neither (no auth_type, integrity_type,
 * encryption_type, cipher_suite) lets the bridge ask the BMC (Get Channel
 * Cipher Suites) and take the strongest suite it offers: 17, then 3, 2, 1, 0.
 */
const oneOf = (values: readonly string[]): ReturnType<typeof Type.Union> =>
  Type.Union(values.map((v) => Type.Literal(v)), { errorMessage: `must be one of ${values.join(', ')}` })

/** The bound for one request to a BMC, session set-up included (ms). */
const TimeoutMs = Type.Integer({ minimum: 100, maximum: 60000, errorMessage: 'must be an integer from 100 to 60000 (milliseconds)' })

const BmcEntrySchema = Type.Object({
  bmc_ip: Type.String({ minLength: 1, errorMessage: 'must be the BMC address (a non-empty string)' }),
  bmc_port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, errorMessage: 'must be a UDP port number (1-65535)' })),
  username: Type.String({ maxLength: 16, errorMessage: 'must be a string of at most 16 characters (may be empty)' }),
  password: Type.String({ maxLength: 20, errorMessage: 'must be a string of at most 20 characters (may be empty)' }),
  auth_type: Type.Optional(oneOf(AUTH_ALGORITHMS)),
  integrity_type: Type.Optional(oneOf(INTEGRITY_ALGORITHMS)),
  encryption_type: Type.Optional(oneOf(CONFIDENTIALITY_ALGORITHMS)),
  cipher_suite: Type.Optional(Type.Union(Object.keys(CIPHER_SUITES).map((id) => Type.Literal(Number(id))), {
    errorMessage: `must be one of the cipher suites ${Object.keys(CIPHER_SUITES).join(', ')}`
  })),
  boot_valid_bit: Type.Optional(Type.Union([Type.Literal('honour'), Type.Literal('ignore')], {
    errorMessage: "must be 'honour' (the default) or 'ignore'"
  })),
  timeout_ms: Type.Optional(TimeoutMs),
  power_on_watts: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6, errorMessage: 'must be the estimated power-on draw in watts (0-1000000)' }))
})

const BmcConfigSchema = Type.Object({
  bmcs: Type.Array(BmcEntrySchema, { maxItems: 0xffffff, errorMessage: 'must be a list of BMCs' }),
  timeout_ms: Type.Optional(TimeoutMs)
})

type BmcConfigFile = Static<typeof BmcConfigSchema>

export interface BmcConfigEntry {
  target: BmcTarget
  /** 'honour': boot flags without their valid bit read as no_override (the spec's, and v1.2's). */
  bootValidBit: 'honour' | 'ignore'
  /** The bound for one request, session set-up included (ms); unset: the session's default (3000). */
  timeoutMs?: number
  /** The estimated power-on (inrush) draw in watts, for bulk power's inrush bound. */
  powerOnWatts?: number
}

/** The BMCs of a bmc_config.json, validated; errors name the file, the field and the reason. */
export function loadBmcConfig (file: string): BmcConfigEntry[] {
  const value = readJsonFile(file)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(file, '', 'must be a JSON object with a "bmcs" list')
  if (!('bmcs' in value)) throw new ConfigError(file, 'bmcs', 'missing: list the BMCs under "bmcs"')
  const error = firstSchemaError(BmcConfigSchema, value)
  if (error !== undefined) throw new ConfigError(file, error[0], error[1])
  const config = value as BmcConfigFile
  return config.bmcs.map((bmc, i) => {
    const where = `bmcs[${i}]`
    const algorithms = entryAlgorithms(file, where, bmc)
    if (algorithms !== undefined) {
      const conflict = algorithmConflict(algorithms)
      if (conflict !== undefined) {
        throw new ConfigError(file, `${where}.${conflict.field === 'integrity' ? 'integrity_type' : 'encryption_type'}`, conflict.reason)
      }
    }
    return {
      target: {
        host: bmc.bmc_ip,
        port: bmc.bmc_port ?? 623,
        username: bmc.username,
        password: bmc.password,
        ...algorithms
      },
      bootValidBit: bmc.boot_valid_bit ?? 'honour',
      timeoutMs: bmc.timeout_ms ?? config.timeout_ms,
      powerOnWatts: bmc.power_on_watts
    }
  })
}

const ALGORITHM_FIELDS = [['auth_type', 'auth'], ['integrity_type', 'integrity'], ['encryption_type', 'confidentiality']] as const

/** The entry's algorithms: named, or from cipher_suite, or undefined (ask the BMC). */
function entryAlgorithms (file: string, where: string, bmc: Static<typeof BmcEntrySchema>): Algorithms | undefined {
  const named = ALGORITHM_FIELDS.filter(([field]) => bmc[field] !== undefined)
  if (bmc.cipher_suite !== undefined) {
    const suite = CIPHER_SUITES[bmc.cipher_suite]
    for (const [field, key] of named) {
      if (bmc[field] !== suite[key]) throw new ConfigError(file, `${where}.${field}`, `cipher suite ${suite.id} uses ${suite[key]}, not ${String(bmc[field])}`)
    }
    return { auth: suite.auth, integrity: suite.integrity, confidentiality: suite.confidentiality }
  }
  if (named.length === 0) return undefined
  const missing = ALGORITHM_FIELDS.find(([field]) => bmc[field] === undefined)
  if (missing !== undefined) {
    throw new ConfigError(file, `${where}.${missing[0]}`, 'missing: name auth_type, integrity_type and encryption_type together, or a cipher_suite, or none of them to use the strongest suite the BMC offers')
  }
  return { auth: bmc.auth_type as AuthAlgorithm, integrity: bmc.integrity_type as IntegrityAlgorithm, confidentiality: bmc.encryption_type as ConfidentialityAlgorithm }
}
