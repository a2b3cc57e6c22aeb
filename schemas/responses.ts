import { Type, type Static, type TObject, type TOptionalWithFlag, type TProperties, type TSchema, type TUnsafe } from '@sinclair/typebox'
import { AssetInformationDocument } from './generated/asset-information.js'
import { BoardLocationDocument } from './generated/board-location.js'
import { BoardsDevicesDocument } from './generated/boards-devices.js'
import { BootTargetDocument } from './generated/boot-target.js'
import { DeviceLocationDocument } from './generated/device-location.js'
import { FanSpeedDocument } from './generated/fan-speed.js'
import { LedControlDocument } from './generated/led-control.js'
import { PowerStatusDocument } from './generated/power-status.js'
import { TestStatusDocument } from './generated/test-status.js'
import { ThermistorReadingDocument } from './generated/thermistor-reading.js'
import { VersionDocument } from './generated/version.js'

/**
 * Response schemas of the v1.2 API, composed on the TypeBox schemas generated
 * from the JSON Schemas the API reference documents (schemas/json/ ->
 * schemas/generated/, `npm run schemas`). Only the differences are written
 * here, and `documented` below lists each with its reason:
 * test/schemas.test.ts checks every one against its document (a declared
 * narrowing must accept less, a widening more, an addition must be new).
 * Routes pass these through responses(), so each handler's return is
 * type-checked against its 200 schema.
 */

/** An integer that may exceed 2^53: the bus hands it over as a bigint, and the serializer writes it exactly. */
const wideInteger = (): TUnsafe<number | bigint> => Type.Unsafe<number | bigint>(Type.Integer())

/**
 * The object with its properties in alphabetical order: the serializer
 * follows schema order and v1.2 sorted its keys.
 */
function sorted<T extends TProperties> (schema: TObject<T>, options: { $id?: string, title?: string } = {}): TObject<T> {
  const keys = Object.keys(schema.properties).sort()
  return Type.Object(Object.fromEntries(keys.map((key) => [key, schema.properties[key]])) as T, options)
}

/** The $id and the document's own title for a top-level schema. */
const named = ($id: string, document: TSchema): { $id: string, title?: string } => ({ $id, title: document.title as string | undefined })

/** A property the document leaves optional that every response carries. */
const present = <T extends TSchema>(schema: T): TOptionalWithFlag<T, false> => Type.Optional(schema, false)

export const TestStatus = sorted(Type.Required(TestStatusDocument), named('TestStatus', TestStatusDocument))

const BoardDocument = BoardsDevicesDocument.properties.boards.items
const DeviceDocument = BoardDocument.properties.devices.items

export const ScannedDevice = sorted(Type.Composite([
  Type.Required(Type.Omit(DeviceDocument, ['device_type'])),
  Type.Object({
    device_info: Type.Optional(Type.String()),
    device_type: Type.String({ enum: [...(DeviceDocument.properties.device_type.enum as string[]), 'voltage', 'current', 'energy', 'frequency', 'liquid_flow', 'percent', 'none'] })
  })
]))

export const ScannedBoard = sorted(Type.Composite([
  Type.Object({ board_id: present(BoardDocument.properties.board_index) }),
  Type.Object({ devices: Type.Array(ScannedDevice) })
]))

export const BoardsDevices = sorted(Type.Object({ boards: Type.Array(ScannedBoard) }), named('BoardsDevices', BoardsDevicesDocument))

export const Version = sorted(Type.Required(VersionDocument), named('Version', VersionDocument))

/** A reading: which fields are present depends on the device type. */
export const Reading = sorted(Type.Composite([
  ThermistorReadingDocument,
  Type.Object({
    current_a: Type.Optional(Type.Number({ description: 'IPMI and Redfish current sensors: amperes' })),
    device_raw: Type.Optional(wideInteger()),
    energy_kwh: Type.Optional(Type.Number({ description: 'Redfish energy sensors: kilowatt-hours' })),
    flow_lpm: Type.Optional(Type.Number({ description: 'Redfish liquid flow sensors: litres per minute' })),
    frequency_hz: Type.Optional(Type.Number({ description: 'Redfish frequency sensors: hertz' })),
    humidity: Type.Optional(Type.Number()),
    led_state: Type.Optional(Type.String()),
    percent: Type.Optional(Type.Number({ description: 'Redfish percentage sensors that are neither fans nor humidity (e.g. a battery\'s state of health): percent' })),
    power_w: Type.Optional(Type.Number({ description: 'IPMI and Redfish power sensors: watts' })),
    pressure_kpa: Type.Optional(Type.Number({ description: 'Redfish pressure sensors: kilopascals' })),
    speed_percent: Type.Optional(Type.Number({ description: 'Redfish fans that report percent of full speed instead of rpm' })),
    speed_rpm: Type.Optional(wideInteger()),
    voltage_v: Type.Optional(Type.Number({ description: 'IPMI and Redfish voltage sensors: volts' }))
  })
]), { $id: 'Reading', title: 'OpenDCRE Device Reading' })

export const AssetInformation = sorted(Type.Composite([
  AssetInformationDocument,
  Type.Object({ service_url: Type.Optional(Type.String()) })
]), named('AssetInformation', AssetInformationDocument))

export const PowerStatus = sorted(Type.Required(PowerStatusDocument), named('PowerStatus', PowerStatusDocument))

export const BootTarget = sorted(Type.Required(BootTargetDocument), named('BootTarget', BootTargetDocument))

const ChassisLocationDocument = DeviceLocationDocument.properties.chassis_location

export const DeviceLocation = sorted(Type.Object({
  chassis_location: sorted(Type.Composite([
    Type.Required(Type.Omit(ChassisLocationDocument, ['server_node'])),
    Type.Object({ server_node: Type.Union([Type.Integer(), present(ChassisLocationDocument.properties.server_node)]) })
  ])),
  physical_location: present(Type.Required(DeviceLocationDocument.properties.physical_location))
}), named('DeviceLocation', DeviceLocationDocument))

export const BoardLocation = sorted(Type.Object({
  physical_location: present(Type.Required(BoardLocationDocument.properties.physical_location))
}), named('BoardLocation', BoardLocationDocument))

export const LedControl = sorted(Type.Composite([
  Type.Required(LedControlDocument),
  Type.Object({ led_color: Type.Optional(Type.String()) })
]), named('LedControl', LedControlDocument))

export const FanSpeed = sorted(Type.Composite([
  Type.Omit(FanSpeedDocument, ['speed_rpm']),
  Type.Object({ speed_rpm: wideInteger() })
]), named('FanSpeed', FanSpeedDocument))

/** Every failed command: HTTP 500 (404 for an unknown route). */
export const ErrorResponse = Type.Object({ message: Type.String() }, { $id: 'ErrorResponse', title: 'OpenDCRE Error' })

export type PowerStatusT = Static<typeof PowerStatus>

/**
 * The 200 and error schemas of a route. Generic, so the TypeBox type
 * provider checks each handler's return against Static<typeof ok>.
 */
export function responses<T extends TSchema> (ok: T): { 200: T, 404: typeof ErrorResponse, 500: typeof ErrorResponse } {
  return { 200: ok, 404: ErrorResponse, 500: ErrorResponse }
}

export interface DocumentedSchema {
  /** The document under schemas/json/. */
  file: string
  schema: TSchema
  /** Property paths this schema has that the document does not, and why. */
  additions?: Record<string, string>
  /** Property paths the document has that this schema names otherwise, and why. */
  renames?: Record<string, { to: string, why: string }>
  /** Property paths whose type is narrower than the document's, and why. */
  narrowed?: Record<string, string>
  /** Property paths whose type is wider than the document's, and why. */
  widened?: Record<string, string>
  /** Property paths the document leaves optional that every response carries (a narrowing), and why. */
  required?: { paths: string[], why: string }
}

const ALWAYS_SENT = 'the API always sends it, as v1.2 does'

export const documented: DocumentedSchema[] = [
  { file: 'test-status.json', schema: TestStatus, required: { paths: ['status'], why: ALWAYS_SENT } },
  {
    file: 'boards-devices.json',
    schema: BoardsDevices,
    renames: { 'boards.board_index': { to: 'boards.board_id', why: 'the reference example and v1.2 responses say board_id' } },
    additions: { 'boards.devices.device_info': 'IPMI bridge: the SDR id string (docs/protocol.md §8.2); Redfish: the sensor Name (§10.2)' },
    widened: { 'boards.devices.device_type': "'none' added to the enum for device types v1.2 cannot name; voltage and current for IPMI and Redfish sensors; energy, frequency, liquid_flow and percent for Redfish sensors" },
    required: { paths: ['boards', 'boards.board_id', 'boards.devices', 'boards.devices.device_id', 'boards.devices.device_type'], why: 'every board and device in a scan has its id and type' }
  },
  { file: 'version.json', schema: Version, required: { paths: ['api_version', 'firmware_version', 'opendcre_version'], why: ALWAYS_SENT } },
  {
    file: 'thermistor-reading.json',
    schema: Reading,
    additions: {
      humidity: 'humidity devices (docs/protocol.md §5.3)',
      speed_rpm: 'fan_speed devices',
      led_state: 'led devices',
      device_raw: 'other device types (docs/protocol.md §5.7)',
      voltage_v: 'IPMI and Redfish voltage sensors (docs/ipmi.md, docs/redfish.md)',
      current_a: 'IPMI and Redfish current sensors (docs/ipmi.md, docs/redfish.md)',
      power_w: 'IPMI and Redfish power sensors (docs/ipmi.md, docs/redfish.md)',
      speed_percent: 'Redfish fans in percent (docs/api.md, Reading types)',
      energy_kwh: 'Redfish energy sensors (docs/api.md, Reading types)',
      frequency_hz: 'Redfish frequency sensors (docs/api.md, Reading types)',
      pressure_kpa: 'Redfish pressure sensors (docs/api.md, Reading types)',
      flow_lpm: 'Redfish liquid flow sensors (docs/api.md, Reading types)',
      percent: 'Redfish percentage sensors (docs/api.md, Reading types)'
    }
  },
  { file: 'asset-information.json', schema: AssetInformation, additions: { service_url: 'Redfish boards: the service URL' } },
  { file: 'power-status.json', schema: PowerStatus, required: { paths: ['input_power', 'input_voltage', 'output_current', 'over_current', 'pmbus_raw', 'power_ok', 'power_status', 'under_voltage'], why: ALWAYS_SENT } },
  { file: 'boot-target.json', schema: BootTarget, required: { paths: ['target'], why: ALWAYS_SENT } },
  {
    file: 'device-location.json',
    schema: DeviceLocation,
    widened: { 'chassis_location.server_node': 'an integer for microservers, as v1.2 returns it (its tests compare with 3 and 31)' },
    required: {
      paths: ['chassis_location', 'chassis_location.depth', 'chassis_location.horiz_pos', 'chassis_location.server_node', 'chassis_location.vert_pos', 'physical_location', 'physical_location.depth', 'physical_location.horizontal', 'physical_location.vertical'],
      why: "a location always has every field ('unknown' where the id does not say: docs/protocol.md §6)"
    }
  },
  { file: 'board-location.json', schema: BoardLocation, required: { paths: ['physical_location', 'physical_location.depth', 'physical_location.horizontal', 'physical_location.vertical'], why: "a location always has every field ('unknown' where not known)" } },
  { file: 'led-control.json', schema: LedControl, additions: { led_color: 'IPMI bridge and Redfish (docs/protocol.md §8.3, §10.3)' }, required: { paths: ['led_state'], why: ALWAYS_SENT } },
  {
    file: 'fan-speed.json',
    schema: FanSpeed,
    narrowed: { speed_rpm: 'integer: rpm is an integer (docs/protocol.md §5.5); lets values past 2^53 serialise exactly' },
    required: { paths: ['speed_rpm'], why: ALWAYS_SENT }
  }
]
