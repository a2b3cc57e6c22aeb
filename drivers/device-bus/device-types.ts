/** Device type codes on the device bus (docs/protocol.md §2). */
export const DEVICE_TYPE_CODES = {
  led: 0x10,
  system: 0x12,
  power: 0x40,
  humidity: 0x4e,
  pressure: 0xee,
  fan_speed: 0x82,
  current: 0x90,
  temperature: 0x9a,
  thermistor: 0x9c,
  none: 0xff
} as const

type DeviceTypeName = keyof typeof DEVICE_TYPE_CODES

const NAMES_BY_CODE = new Map<number, DeviceTypeName>(
  Object.entries(DEVICE_TYPE_CODES).map(([name, code]) => [code, name as DeviceTypeName])
)

export function deviceTypeCode (name: string): number | undefined {
  return Object.hasOwn(DEVICE_TYPE_CODES, name) ? DEVICE_TYPE_CODES[name as DeviceTypeName] : undefined
}

/** The name of a type code; unknown codes are 'none' as in v1.2. */
export function deviceTypeName (code: number): DeviceTypeName {
  return NAMES_BY_CODE.get(code) ?? 'none'
}

/** Board id bits (docs/protocol.md §4.1). */
export const BOARD_ID_BITS = {
  scanAll: 0x80000000,
  ipmi: 0x40000000,
  shuffle: 0x20000000,
  save: 0x10000000
} as const

/** Highest board id that can be addressed on the device bus. */
export const MAX_BUS_BOARD_ID = 0x00ffffff

/** Commands: the first data byte of a request (docs/protocol.md §3.1). */
export const COMMANDS = {
  scan: 0x44, // 'D'
  version: 0x56, // 'V'
  read: 0x52, // 'R'
  write: 0x57, // 'W'
  power: 0x50, // 'P'
  retry: 0x3f // '?'
} as const
