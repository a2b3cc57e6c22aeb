import { Type, type Static } from '@sinclair/typebox'
import { ConfigError } from '../../drivers/errors.js'
import { firstSchemaError, readJsonFile } from '../../config/config-file.js'

/**
 * A Redfish BMC emulator's configuration (emulator-configs/redfish-emulator.json):
 * one server's computer system, chassis, manager, sensors and event log, and
 * how it authenticates. Every emulated server of `--count N` starts from it.
 */
const SensorKind = Type.Union([Type.Literal('temperature'), Type.Literal('fan'), Type.Literal('voltage'), Type.Literal('current'), Type.Literal('power')],
  { errorMessage: 'must be one of temperature, fan, voltage, current, power' })

const ResetType = Type.Union(
  ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton', 'PowerCycle'].map((k) => Type.Literal(k)),
  { errorMessage: 'must be a Redfish ResetType (On, ForceOff, GracefulShutdown, GracefulRestart, ForceRestart, Nmi, ForceOn, PushPowerButton, PowerCycle)' })

const Text = Type.String({ minLength: 1, maxLength: 255, errorMessage: 'must be a non-empty string' })

export const RedfishEmulatorConfigSchema = Type.Object({
  /** Credentials; leave both out for a service without authentication. */
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 64, errorMessage: 'must be a non-empty string' })),
  password: Type.Optional(Type.String({ maxLength: 128, errorMessage: 'must be a string' })),
  /** Offer a SessionService (default true); false: HTTP Basic only. */
  session_service: Type.Optional(Type.Boolean({ errorMessage: 'must be true or false' })),
  /** Offer an EventService with a Server-Sent Events stream (default true); false: the LogService only. */
  event_service: Type.Optional(Type.Boolean({ errorMessage: 'must be true or false' })),
  session_timeout_s: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400, errorMessage: 'must be an integer from 1 to 86400' })),
  /** Which sensor resources the chassis has: the Sensors collection, the legacy Thermal and Power, or both (as bmcweb). */
  sensor_style: Type.Optional(Type.Union([Type.Literal('sensors'), Type.Literal('legacy'), Type.Literal('both')], { errorMessage: "must be 'sensors', 'legacy' or 'both'" })),
  /** The identify LED's property: LocationIndicatorActive (Redfish 2020.3 on), the older IndicatorLED, or both (as bmcweb; the default). */
  indicator: Type.Optional(Type.Union([Type.Literal('LocationIndicatorActive'), Type.Literal('IndicatorLED'), Type.Literal('both')], { errorMessage: "must be 'LocationIndicatorActive', 'IndicatorLED' or 'both'" })),
  /** The ResetTypes #ComputerSystem.Reset allows (its ActionInfo lists them). */
  reset_types: Type.Optional(Type.Array(ResetType, { minItems: 1, errorMessage: 'must be a non-empty list of ResetTypes' })),
  manager: Type.Object({
    firmware_version: Text,
    model: Type.Optional(Text)
  }, { additionalProperties: false, errorMessage: 'manager takes {firmware_version[, model]}' }),
  system: Type.Object({
    manufacturer: Text,
    model: Text,
    serial_number: Text,
    part_number: Text,
    asset_tag: Type.Optional(Type.String({ maxLength: 255 })),
    bios_version: Type.Optional(Text),
    power_state: Type.Optional(Type.Union([Type.Literal('On'), Type.Literal('Off')], { errorMessage: "must be 'On' or 'Off'" }))
  }, { additionalProperties: false, errorMessage: 'system takes {manufacturer, model, serial_number, part_number[, asset_tag, bios_version, power_state]}' }),
  chassis: Type.Object({
    chassis_type: Text,
    manufacturer: Text,
    model: Text,
    serial_number: Text,
    part_number: Text,
    location: Type.Optional(Type.Object({
      rack: Type.Optional(Text),
      row: Type.Optional(Text),
      rack_offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
      service_label: Type.Optional(Text)
    }, { additionalProperties: false }))
  }, { additionalProperties: false, errorMessage: 'chassis takes {chassis_type, manufacturer, model, serial_number, part_number[, location]}' }),
  sensors: Type.Array(Type.Object({
    name: Text,
    type: SensorKind,
    /** The reading while the system is on. */
    reading: Type.Number({ errorMessage: 'must be a number' }),
    /** How far the reading wanders either side (a slow sine wave). */
    drift: Type.Optional(Type.Number({ minimum: 0, errorMessage: 'must be a non-negative number' })),
    /** The reading while the system is off (default: 0 for fans, current and power, else the reading). */
    off_reading: Type.Optional(Type.Number({ errorMessage: 'must be a number' })),
    /** Served as the Sensor's Thresholds ({Reading}) and the legacy members' UpperThresholdNonCritical ... (DSP0268). */
    thresholds: Type.Optional(Type.Object({
      LowerCaution: Type.Optional(Type.Number()),
      LowerCritical: Type.Optional(Type.Number()),
      LowerFatal: Type.Optional(Type.Number()),
      UpperCaution: Type.Optional(Type.Number()),
      UpperCritical: Type.Optional(Type.Number()),
      UpperFatal: Type.Optional(Type.Number())
    }, { additionalProperties: false, errorMessage: 'thresholds take {LowerCaution, LowerCritical, LowerFatal, UpperCaution, UpperCritical, UpperFatal}' }))
  }, { additionalProperties: false, errorMessage: 'a sensor takes {name, type, reading[, drift, off_reading, thresholds]}' }), { maxItems: 200 }),
  /** Entries the event log starts with. */
  events: Type.Optional(Type.Array(Type.Object({
    message: Text,
    sensor: Type.Optional(Text),
    sensor_type: Type.Optional(Text),
    severity: Type.Union([Type.Literal('OK'), Type.Literal('Warning'), Type.Literal('Critical')], { errorMessage: 'must be OK, Warning or Critical' }),
    direction: Type.Optional(Type.Union([Type.Literal('asserted'), Type.Literal('deasserted')], { errorMessage: "must be 'asserted' or 'deasserted'" }))
  }, { additionalProperties: false })))
}, { additionalProperties: false })

export type RedfishEmulatorConfig = Static<typeof RedfishEmulatorConfigSchema>

function validateRedfishEmulatorConfig (value: unknown, file: string): RedfishEmulatorConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(file, '', 'must be a JSON object')
  const error = firstSchemaError(RedfishEmulatorConfigSchema, value)
  if (error !== undefined) throw new ConfigError(file, error[0], error[1])
  const config = value as RedfishEmulatorConfig
  if ((config.username === undefined) !== (config.password === undefined)) {
    throw new ConfigError(file, config.username === undefined ? 'username' : 'password', 'username and password go together (leave both out for no authentication)')
  }
  return config
}

/** Read and validate a Redfish emulator config; errors name the file, field and reason, never a password. */
export function loadRedfishEmulatorConfig (file: string): RedfishEmulatorConfig {
  return validateRedfishEmulatorConfig(readJsonFile(file), file)
}
