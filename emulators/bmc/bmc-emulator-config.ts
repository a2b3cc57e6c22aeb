import { Type, type Static } from '@sinclair/typebox'
import { ConfigError } from '../../drivers/errors.js'
import { firstSchemaError, readJsonFile } from '../../config/config-file.js'

/**
 * The BMC emulator's configuration: one BMC (users, cipher suites, device id,
 * FRU, sensors and their SDRs, chassis, boot options, DCMI power, SEL) and
 * optional faults. Validated once at startup; errors name the file, the field
 * and the reason. Sensor values are in engineering units (degrees C, RPM,
 * Volts, Amps, Watts); the SDR's M, B and exponents turn them into raw bytes.
 */

const Privilege = Type.Union([Type.Literal('user'), Type.Literal('operator'), Type.Literal('administrator')], {
  errorMessage: "must be 'user', 'operator' or 'administrator'"
})

const User = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 16, errorMessage: 'must be a user name of 1 to 16 characters' }),
  password: Type.String({ maxLength: 20, errorMessage: 'must be a password of at most 20 characters' }),
  privilege: Privilege
}, { additionalProperties: false, errorMessage: 'a user is {name, password, privilege}' })

const SUPPORTED_CIPHER_SUITES = [0, 1, 2, 3, 17] as const

const CipherSuite = Type.Union(SUPPORTED_CIPHER_SUITES.map((n) => Type.Literal(n)), {
  errorMessage: `must be one of the cipher suites ${SUPPORTED_CIPHER_SUITES.join(', ')}`
})

const Hex = (what: string, digits?: number): ReturnType<typeof Type.String> =>
  Type.String({ pattern: digits === undefined ? '^([0-9A-Fa-f]{2})*$' : `^[0-9A-Fa-f]{${digits}}$`, errorMessage: `must be ${what} in hex` })

const Byte = Type.Integer({ minimum: 0, maximum: 255, errorMessage: 'must be an integer from 0 to 255' })

const Device = Type.Object({
  device_id: Type.Optional(Byte),
  device_revision: Type.Optional(Type.Integer({ minimum: 0, maximum: 15, errorMessage: 'must be 0-15' })),
  firmware: Type.Optional(Type.String({ pattern: '^\\d{1,3}\\.\\d{2}$', errorMessage: "must be 'major.minor' with two minor digits, e.g. '2.15'" })),
  manufacturer_id: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xfffff, errorMessage: 'must be an IANA enterprise number (0-1048575)' })),
  product_id: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff, errorMessage: 'must be 0-65535' })),
  aux_firmware: Type.Optional(Hex('4 bytes', 8)),
  guid: Type.Optional(Hex('16 bytes', 32))
}, { additionalProperties: false, errorMessage: 'device takes {device_id, device_revision, firmware, manufacturer_id, product_id, aux_firmware, guid}' })

const SENSOR_KINDS = ['temperature', 'voltage', 'current', 'fan', 'power', 'discrete'] as const
export type SensorKind = typeof SENSOR_KINDS[number]

const Thresholds = Type.Object({
  lnr: Type.Optional(Type.Number()),
  lcr: Type.Optional(Type.Number()),
  lnc: Type.Optional(Type.Number()),
  unc: Type.Optional(Type.Number()),
  ucr: Type.Optional(Type.Number()),
  unr: Type.Optional(Type.Number())
}, { additionalProperties: false, errorMessage: 'thresholds take lnr, lcr, lnc, unc, ucr, unr (engineering units)' })

const Sensor = Type.Object({
  number: Byte,
  name: Type.String({ minLength: 1, maxLength: 16, errorMessage: 'must be an id string of 1 to 16 characters' }),
  kind: Type.Union(SENSOR_KINDS.map((k) => Type.Literal(k)), { errorMessage: `must be one of ${SENSOR_KINDS.join(', ')}` }),
  /** full (default for analog sensors) or compact (discrete sensors, or raw-unit readings). */
  record: Type.Optional(Type.Union([Type.Literal('full'), Type.Literal('compact')], { errorMessage: "must be 'full' or 'compact'" })),
  /** IPMI sensor type code (table 42-3); default from kind. */
  sensor_type: Type.Optional(Byte),
  /** Event/reading type code (table 42-1); default 0x01 threshold, 0x6f sensor-specific for discrete. */
  event_reading_type: Type.Optional(Byte),
  entity_id: Type.Optional(Byte),
  entity_instance: Type.Optional(Type.Integer({ minimum: 0, maximum: 127, errorMessage: 'must be 0-127' })),
  m: Type.Optional(Type.Integer({ minimum: -512, maximum: 511, errorMessage: 'must be a 10-bit signed integer (-512..511)' })),
  b: Type.Optional(Type.Integer({ minimum: -512, maximum: 511, errorMessage: 'must be a 10-bit signed integer (-512..511)' })),
  b_exp: Type.Optional(Type.Integer({ minimum: -8, maximum: 7, errorMessage: 'must be a 4-bit signed integer (-8..7)' })),
  r_exp: Type.Optional(Type.Integer({ minimum: -8, maximum: 7, errorMessage: 'must be a 4-bit signed integer (-8..7)' })),
  signed: Type.Optional(Type.Boolean({ errorMessage: 'must be true (two\'s complement readings) or false' })),
  /** Analog: the starting value and the range it drifts in; discrete: the state bits (value). */
  value: Type.Number({ errorMessage: 'must be a number (engineering units, or the state bits of a discrete sensor)' }),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
  /** Largest change per drift step (engineering units); 0: the reading never moves. */
  drift: Type.Optional(Type.Number({ minimum: 0, errorMessage: 'must be a number >= 0' })),
  /** What the reading is while the chassis is powered off (e.g. a power sensor's standby watts). */
  off_value: Type.Optional(Type.Number()),
  thresholds: Type.Optional(Thresholds)
}, { additionalProperties: false })

const FruText = Type.Optional(Type.String({ maxLength: 63, errorMessage: 'must be a string of at most 63 characters' }))

const Fru = Type.Object({
  chassis: Type.Optional(Type.Object({
    type: Type.Optional(Type.Integer({ minimum: 1, maximum: 0x24, errorMessage: 'must be an SMBIOS chassis type (1-36, 0x17 rack mount)' })),
    part_number: FruText,
    serial_number: FruText
  }, { additionalProperties: false, errorMessage: 'fru.chassis takes {type, part_number, serial_number}' })),
  board: Type.Optional(Type.Object({
    mfg_date: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T', errorMessage: 'must be an ISO date-time, e.g. 2024-03-01T00:00:00Z' })),
    manufacturer: FruText,
    product_name: FruText,
    serial_number: FruText,
    part_number: FruText
  }, { additionalProperties: false, errorMessage: 'fru.board takes {mfg_date, manufacturer, product_name, serial_number, part_number}' })),
  product: Type.Optional(Type.Object({
    manufacturer: FruText,
    product_name: FruText,
    part_number: FruText,
    version: FruText,
    serial_number: FruText,
    asset_tag: FruText
  }, { additionalProperties: false, errorMessage: 'fru.product takes {manufacturer, product_name, part_number, version, serial_number, asset_tag}' }))
}, { additionalProperties: false, errorMessage: 'fru takes {chassis, board, product}' })

const Chassis = Type.Object({
  power: Type.Optional(Type.Union([Type.Literal('on'), Type.Literal('off')], { errorMessage: "must be 'on' or 'off'" })),
  power_restore_policy: Type.Optional(Type.Union([Type.Literal('always-off'), Type.Literal('previous'), Type.Literal('always-on')], {
    errorMessage: "must be 'always-off', 'previous' or 'always-on'"
  })),
  /** How long a power cycle keeps the power off (ms, default 1000). */
  cycle_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60000, errorMessage: 'must be 0-60000 (milliseconds)' })),
  /** How long a power-up takes before the chassis reports on (ms, default 0: at once). */
  power_on_delay_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600000, errorMessage: 'must be 0-600000 (milliseconds)' }))
}, { additionalProperties: false, errorMessage: 'chassis takes {power, power_restore_policy, cycle_ms, power_on_delay_ms}' })

export const BOOT_DEVICE_NAMES = ['no_override', 'pxe', 'hdd', 'hdd_safe_mode', 'diagnostic_partition', 'cdrom', 'bios_setup', 'remote_floppy', 'remote_cdrom', 'primary_remote_media', 'remote_hdd', 'floppy'] as const

const Boot = Type.Object({
  device: Type.Optional(Type.Union(BOOT_DEVICE_NAMES.map((d) => Type.Literal(d)), { errorMessage: `must be one of ${BOOT_DEVICE_NAMES.join(', ')}` })),
  persistent: Type.Optional(Type.Boolean()),
  efi: Type.Optional(Type.Boolean()),
  /** A non-persistent boot flag loses its valid bit this long after it is set (spec: 60 s). */
  valid_timeout_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, errorMessage: 'must be 0-3600 (seconds; 0 = never)' }))
}, { additionalProperties: false, errorMessage: 'boot takes {device, persistent, efi, valid_timeout_s}' })

const Dcmi = Type.Object({
  /** Watts while powered on; the reading drifts in [min, max]. */
  power: Type.Number({ minimum: 0, maximum: 65535, errorMessage: 'must be watts (0-65535)' }),
  min: Type.Optional(Type.Number({ minimum: 0, maximum: 65535 })),
  max: Type.Optional(Type.Number({ minimum: 0, maximum: 65535 })),
  drift: Type.Optional(Type.Number({ minimum: 0 })),
  /** Watts while the chassis is off (standby). */
  off_power: Type.Optional(Type.Number({ minimum: 0, maximum: 65535 }))
}, { additionalProperties: false, errorMessage: 'dcmi takes {power, min, max, drift, off_power}' })

const SelEntry = Type.Object({
  time: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}', errorMessage: 'must be an ISO date-time, e.g. 2024-03-01T12:00:00Z' }),
  /** A sensor number of this BMC (its type and name come from there). */
  sensor: Byte,
  /** Event/reading type (default: the sensor's); 0x01 threshold. */
  event_type: Type.Optional(Byte),
  /** Event data 1-3 as a hex string (default for a threshold: upper critical going high). */
  event_data: Type.Optional(Hex('3 bytes', 6)),
  deassertion: Type.Optional(Type.Boolean())
}, { additionalProperties: false, errorMessage: 'a SEL entry is {time, sensor, event_type, event_data, deassertion}' })

const Faults = Type.Object({
  /** Fraction of datagrams dropped (0-1). */
  drop: Type.Optional(Type.Number({ minimum: 0, maximum: 1, errorMessage: 'must be a fraction from 0 to 1' })),
  /** Every answer delayed by this many ms. */
  delay_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60000, errorMessage: 'must be 0-60000 (milliseconds)' })),
  /** Reboot (stop answering, sessions lost) every this many seconds, silent for reboot_ms. */
  reboot_every_s: Type.Optional(Type.Integer({ minimum: 1, errorMessage: 'must be a number of seconds >= 1' })),
  reboot_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600000, errorMessage: 'must be 0-600000 (milliseconds)' })),
  /** Start with the session table full. */
  session_table_full: Type.Optional(Type.Boolean()),
  /** This many seconds after start, the SDR repository changes: the last sensor is removed. */
  sdr_change_after_s: Type.Optional(Type.Number({ minimum: 0, errorMessage: 'must be a number of seconds >= 0' })),
  /** This many seconds after start, a sensor crosses one of its thresholds (and logs a SEL event). */
  threshold_crossing: Type.Optional(Type.Object({
    sensor: Byte,
    threshold: Type.Union(['lnr', 'lcr', 'lnc', 'unc', 'ucr', 'unr'].map((n) => Type.Literal(n)), { errorMessage: 'must be one of lnr, lcr, lnc, unc, ucr, unr' }),
    after_s: Type.Number({ minimum: 0, errorMessage: 'must be a number of seconds >= 0' })
  }, { additionalProperties: false, errorMessage: 'threshold_crossing is {sensor, threshold, after_s}' }))
}, { additionalProperties: false, errorMessage: 'faults take {drop, delay_ms, reboot_every_s, reboot_ms, session_table_full, sdr_change_after_s, threshold_crossing}' })

export const BmcEmulatorConfigSchema = Type.Object({
  users: Type.Array(User, { minItems: 1, maxItems: 15, errorMessage: 'must be a list of 1 to 15 users' }),
  cipher_suites: Type.Array(CipherSuite, { minItems: 1, errorMessage: 'must be a non-empty list of cipher suites' }),
  device: Type.Optional(Device),
  session: Type.Optional(Type.Object({
    max_sessions: Type.Optional(Type.Integer({ minimum: 1, maximum: 63, errorMessage: 'must be 1-63' })),
    idle_timeout_s: Type.Optional(Type.Number({ minimum: 0.1, maximum: 3600, errorMessage: 'must be 0.1-3600 (seconds)' })),
    setup_timeout_s: Type.Optional(Type.Number({ minimum: 0.1, maximum: 60, errorMessage: 'must be 0.1-60 (seconds)' }))
  }, { additionalProperties: false, errorMessage: 'session takes {max_sessions, idle_timeout_s, setup_timeout_s}' })),
  /** Milliseconds between two drift steps of the readings (default 2000). */
  drift_interval_ms: Type.Optional(Type.Integer({ minimum: 10, errorMessage: 'must be >= 10 (milliseconds)' })),
  fru: Type.Optional(Fru),
  sensors: Type.Array(Sensor, { maxItems: 255, errorMessage: 'must be a list of sensors' }),
  chassis: Type.Optional(Chassis),
  boot: Type.Optional(Boot),
  dcmi: Type.Optional(Dcmi),
  sel: Type.Optional(Type.Array(SelEntry, { errorMessage: 'must be a list of SEL entries' })),
  faults: Type.Optional(Faults)
}, { additionalProperties: false, errorMessage: 'takes {users, cipher_suites, device, session, drift_interval_ms, fru, sensors, chassis, boot, dcmi, sel, faults}' })

export type BmcEmulatorConfig = Static<typeof BmcEmulatorConfigSchema>
export type SensorConfig = Static<typeof Sensor>
export type FruConfig = Static<typeof Fru>

/** Validates a parsed config; `file` names it in errors. */
export function validateBmcEmulatorConfig (value: unknown, file: string): BmcEmulatorConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(file, '', 'must be a JSON object')
  const error = firstSchemaError(BmcEmulatorConfigSchema, value)
  if (error !== undefined) throw new ConfigError(file, error[0], error[1])
  const config = value as BmcEmulatorConfig
  const names = new Set<string>()
  config.users.forEach((u, i) => {
    if (names.has(u.name)) throw new ConfigError(file, `users[${i}].name`, `duplicate user '${u.name}'`)
    names.add(u.name)
  })
  const numbers = new Set<number>()
  config.sensors.forEach((s, i) => {
    const at = `sensors[${i}]`
    if (numbers.has(s.number)) throw new ConfigError(file, `${at}.number`, `duplicate sensor number ${s.number}`)
    numbers.add(s.number)
    if (s.m === 0) throw new ConfigError(file, `${at}.m`, 'M must not be 0 (readings could not be converted)')
    if (s.min !== undefined && s.max !== undefined && s.min > s.max) throw new ConfigError(file, `${at}.min`, 'is above max')
    if (s.min !== undefined && s.value < s.min) throw new ConfigError(file, `${at}.value`, `is below min (${s.min})`)
    if (s.max !== undefined && s.value > s.max) throw new ConfigError(file, `${at}.value`, `is above max (${s.max})`)
    if (s.kind === 'discrete' && s.thresholds !== undefined) throw new ConfigError(file, `${at}.thresholds`, 'a discrete sensor has no thresholds')
  })
  config.sel?.forEach((e, i) => {
    if (!numbers.has(e.sensor)) throw new ConfigError(file, `sel[${i}].sensor`, `no sensor number ${e.sensor} in sensors`)
    if (Number.isNaN(Date.parse(e.time))) throw new ConfigError(file, `sel[${i}].time`, `'${e.time}' is not a date`)
  })
  const crossing = config.faults?.threshold_crossing
  if (crossing !== undefined) {
    const s = config.sensors.find((x) => x.number === crossing.sensor)
    if (s === undefined) throw new ConfigError(file, 'faults.threshold_crossing.sensor', `no sensor number ${crossing.sensor} in sensors`)
    if (s.thresholds?.[crossing.threshold as 'lnr'] === undefined) throw new ConfigError(file, 'faults.threshold_crossing.threshold', `sensor ${s.number} (${s.name}) has no ${crossing.threshold} threshold`)
  }
  if (config.dcmi?.min !== undefined && config.dcmi.max !== undefined && config.dcmi.min > config.dcmi.max) {
    throw new ConfigError(file, 'dcmi.min', 'is above max')
  }
  return config
}

/** Reads and validates a BMC emulator config file. */
export function loadBmcEmulatorConfig (file: string): BmcEmulatorConfig {
  return validateBmcEmulatorConfig(readJsonFile(file), file)
}
