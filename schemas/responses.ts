import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox'

/**
 * Response schemas of the v1.2 API, written by hand from the JSON Schemas
 * the API reference documents (kept verbatim in schemas/json/).
 * test/schemas.test.ts checks each one against its document exactly: every
 * file in schemas/json is covered, every documented property has its
 * documented type, and `documented` below lists where and why a schema
 * knowingly differs (a declared narrowing must accept less, a widening
 * more). Routes pass these through responses(), so each handler's return
 * is type-checked against its 200 schema. Properties are listed in alphabetical
 * order because the serializer follows schema order and v1.2 sorted its keys.
 */

const str = (): TSchema => Type.String()

/** An integer that may exceed 2^53: the bus hands it over as a bigint, and the serializer writes it exactly. */
const wideInteger = (): TUnsafe<number | bigint> => Type.Unsafe<number | bigint>(Type.Integer())

export const TestStatus = Type.Object({ status: Type.String() }, { $id: 'TestStatus', title: 'OpenDCRE Test Status' })

const DEVICE_TYPES = ['temperature', 'thermistor', 'humidity', 'led', 'system', 'power', 'fan_speed', 'pressure', 'voltage', 'current', 'energy', 'frequency', 'liquid_flow', 'percent'] as const

export const ScannedDevice = Type.Object({
  device_id: Type.String(),
  device_info: Type.Optional(Type.String()),
  device_type: Type.String({ enum: [...DEVICE_TYPES, 'none'] })
})

export const ScannedBoard = Type.Object({
  board_id: Type.String(),
  devices: Type.Array(ScannedDevice)
})

export const BoardsDevices = Type.Object({ boards: Type.Array(ScannedBoard) }, { $id: 'BoardsDevices', title: 'OpenDCRE Boards and Devices' })

export const Version = Type.Object({
  api_version: Type.String(),
  firmware_version: Type.String(),
  opendcre_version: Type.String()
}, { $id: 'Version', title: 'OpenDCRE Board Version' })

/** A reading: which fields are present depends on the device type. */
export const Reading = Type.Object({
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
  temperature_c: Type.Optional(Type.Number()),
  voltage_v: Type.Optional(Type.Number({ description: 'IPMI and Redfish voltage sensors: volts' }))
}, { $id: 'Reading', title: 'OpenDCRE Device Reading' })

export const AssetInformation = Type.Object({
  bmc_ip: Type.Optional(str()),
  board_info: Type.Optional(Type.Object({
    manufacturer: Type.Optional(str()),
    part_number: Type.Optional(str()),
    product_name: Type.Optional(str()),
    serial_number: Type.Optional(str())
  })),
  chassis_info: Type.Optional(Type.Object({
    chassis_type: Type.Optional(str()),
    part_number: Type.Optional(str()),
    serial_number: Type.Optional(str())
  })),
  product_info: Type.Optional(Type.Object({
    asset_tag: Type.Optional(str()),
    manufacturer: Type.Optional(str()),
    part_number: Type.Optional(str()),
    product_name: Type.Optional(str()),
    serial_number: Type.Optional(str()),
    version: Type.Optional(str())
  })),
  service_url: Type.Optional(str())
}, { $id: 'AssetInformation', title: 'OpenDCRE Asset Information' })

export const PowerStatus = Type.Object({
  input_power: Type.Number(),
  input_voltage: Type.Number(),
  output_current: Type.Number(),
  over_current: Type.Boolean(),
  pmbus_raw: Type.String(),
  power_ok: Type.Boolean(),
  power_status: Type.String(),
  under_voltage: Type.Boolean()
}, { $id: 'PowerStatus', title: 'OpenDCRE Power Status' })

export const BootTarget = Type.Object({ target: Type.String() }, { $id: 'BootTarget', title: 'OpenDCRE Boot Target' })

const PhysicalLocation = Type.Object({
  depth: Type.String(),
  horizontal: Type.String(),
  vertical: Type.String()
})

export const DeviceLocation = Type.Object({
  chassis_location: Type.Object({
    depth: Type.String(),
    horiz_pos: Type.String(),
    server_node: Type.Union([Type.Integer(), Type.String()]),
    vert_pos: Type.String()
  }),
  physical_location: PhysicalLocation
}, { $id: 'DeviceLocation', title: 'OpenDCRE Device Location' })

export const BoardLocation = Type.Object({ physical_location: PhysicalLocation }, { $id: 'BoardLocation', title: 'OpenDCRE BoardLocation' })

export const LedControl = Type.Object({
  led_color: Type.Optional(Type.String()),
  led_state: Type.String()
}, { $id: 'LedControl', title: 'OpenDCRE LED Control' })

export const FanSpeed = Type.Object({ speed_rpm: wideInteger() }, { $id: 'FanSpeed', title: 'OpenDCRE Fan Speed' })

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
}

export const documented: DocumentedSchema[] = [
  { file: 'test-status.json', schema: TestStatus },
  {
    file: 'boards-devices.json',
    schema: BoardsDevices,
    renames: { 'boards.board_index': { to: 'boards.board_id', why: 'the reference example and v1.2 responses say board_id' } },
    additions: { 'boards.devices.device_info': 'IPMI bridge: the SDR id string (protocol.md §8)' },
    widened: { 'boards.devices.device_type': "'none' added to the enum for device types v1.2 cannot name; voltage and current for IPMI and Redfish sensors; energy, frequency, liquid_flow and percent for Redfish sensors" }
  },
  { file: 'version.json', schema: Version },
  {
    file: 'thermistor-reading.json',
    schema: Reading,
    additions: {
      humidity: 'humidity devices (protocol.md §5)',
      speed_rpm: 'fan_speed devices',
      led_state: 'led devices',
      device_raw: 'other device types (protocol.md §3)',
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
  { file: 'power-status.json', schema: PowerStatus },
  { file: 'boot-target.json', schema: BootTarget },
  {
    file: 'device-location.json',
    schema: DeviceLocation,
    widened: { 'chassis_location.server_node': 'an integer for microservers, as v1.2 returns it (its tests compare with 3 and 31)' }
  },
  { file: 'board-location.json', schema: BoardLocation },
  { file: 'led-control.json', schema: LedControl, additions: { led_color: 'IPMI bridge (protocol.md §8)' } },
  { file: 'fan-speed.json', schema: FanSpeed, narrowed: { speed_rpm: 'integer: rpm is an integer (protocol.md §5); lets values past 2^53 serialise exactly' } }
]
