import { Type, type Static, type TString } from '@sinclair/typebox'
import { firstSchemaError, parseJsonLossless, readJsonFile } from '../../config/config-file.js'
import { ConfigError } from '../../drivers/errors.js'
import { DEVICE_TYPE_CODES } from '../../drivers/device-bus/device-types.js'

/**
 * The OpenDCRE emulator configuration format (seeds: "OpenDCRE Emulator";
 * docs/protocol.md §7.1), as a TypeBox schema. Every file of the reference
 * implementation validates unchanged; anything else stops startup with the
 * file, the JSON path and the reason.
 */

const hex = (digits: number, what: string): TString =>
  Type.String({ pattern: `^[0-9A-Fa-f]{${digits}}$`, errorMessage: `not a ${digits}-digit hex string`, description: what })

/** A raw byte: 0..255, 999 (sequence number) or 1000+k (checksum from index k). */
const RawByte = Type.Union([
  Type.Integer({ minimum: 0, maximum: 255 }),
  Type.Literal(999),
  Type.Integer({ minimum: 1000, maximum: 1255 })
], { errorMessage: 'not a raw byte (0-255, 999 for the sequence number, 1000+k for a checksum)' })

const RawPacket = Type.Array(RawByte)

/** One response: a value sent as ASCII, raw bytes, or null for no answer. */
const Response = Type.Union([
  Type.Number(),
  Type.BigInt(),
  Type.String(),
  Type.Null(),
  RawPacket
], { errorMessage: 'not a response (a number, a string, null or a list of raw bytes)' })

const ActionBlock = Type.Object({
  repeatable: Type.Boolean({ errorMessage: 'must be true or false' }),
  responses: Type.Array(Response, { errorMessage: 'must be a list of responses' }),
  retry_responses: Type.Optional(Type.Array(Response, { errorMessage: 'must be a list of responses' }))
})

const DeviceTypeName = Type.Union(
  Object.keys(DEVICE_TYPE_CODES).map((name) => Type.Literal(name)),
  { errorMessage: `not a device type (${Object.keys(DEVICE_TYPE_CODES).join(', ')})` }
)

const Device = Type.Object({
  device_id: hex(4, 'device id'),
  device_type: DeviceTypeName,
  read: Type.Optional(ActionBlock),
  write: Type.Optional(ActionBlock),
  power: Type.Optional(ActionBlock),
  asset_info: Type.Optional(ActionBlock),
  boot_target: Type.Optional(ActionBlock)
})

/** Not a list: the emulator sends nothing for this entry. */
const NoAnswer = Type.Union([Type.Null(), Type.String(), Type.Number(), Type.Boolean()])

/** A scan answer: a list of raw packets (anything else: no answer). */
const ScanAnswer = Type.Union([Type.Array(RawPacket), NoAnswer], { errorMessage: 'not a scan answer (a list of raw packets)' })

/** A retried scan's answer: a list of raw packets, or one raw packet. */
const RetryScanAnswer = Type.Union([Type.Array(RawPacket), RawPacket, NoAnswer], { errorMessage: 'not a scan answer (a list of raw packets)' })

const Board = Type.Object({
  board_id: hex(8, 'board id'),
  firmware_version: Type.Union([Type.String(), RawPacket], { errorMessage: 'must be a string or a list of raw bytes' }),
  retry_firmware_version: Type.Optional(Type.Array(Type.Union([RawPacket, NoAnswer], { errorMessage: 'not a list of raw bytes' }))),
  raw_data: Type.Optional(Type.Array(ScanAnswer, { errorMessage: 'must be a list of scan answers' })),
  retry_raw_data: Type.Optional(Type.Array(RetryScanAnswer, { errorMessage: 'must be a list of scan answers' })),
  devices: Type.Optional(Type.Array(Device, { errorMessage: 'must be a list of devices' }))
})

const ScanResult = Type.Object({
  result: Type.Union([Type.Literal('ok'), Type.Literal('error')], { errorMessage: "must be 'ok' or 'error'" }),
  failed_board: Type.Optional(hex(8, 'board id'))
})

const ScanAllScenario = Type.Object({
  initial: ScanResult,
  retry: Type.Optional(Type.Array(ScanResult))
})

export const EmulatorConfigSchema = Type.Object({
  boards: Type.Array(Board, { errorMessage: 'must be a list of boards' }),
  scanall: Type.Optional(Type.Array(ScanAllScenario, { errorMessage: 'must be a list of scan-all scenarios' }))
})

export type EmulatorConfig = Static<typeof EmulatorConfigSchema>
export type EmulatorBoard = Static<typeof Board>
export type EmulatorDevice = Static<typeof Device>
export type EmulatorAction = Static<typeof ActionBlock>
export type EmulatorResponse = Static<typeof Response>
export type ScanAllResult = Static<typeof ScanResult>

export function validateEmulatorConfig (value: unknown, file: string): EmulatorConfig {
  const error = firstSchemaError(EmulatorConfigSchema, value)
  if (error !== undefined) throw new ConfigError(file, error[0], error[1])
  const config = value as EmulatorConfig
  const boards = new Set<number>()
  config.boards.forEach((board, i) => {
    const id = parseInt(board.board_id, 16)
    if (boards.has(id)) throw new ConfigError(file, `boards[${i}].board_id`, `duplicate board id ${board.board_id}`)
    boards.add(id)
    const devices = new Set<number>()
    board.devices?.forEach((device, j) => {
      const path = `boards[${i}].devices[${j}]`
      const deviceId = parseInt(device.device_id, 16)
      if (devices.has(deviceId)) throw new ConfigError(file, `${path}.device_id`, `duplicate device id ${device.device_id} on board ${board.board_id}`)
      devices.add(deviceId)
    })
  })
  return config
}

/** Read, parse and validate an emulator config file; errors name the file, the path and the reason. */
export function loadEmulatorConfig (file: string): EmulatorConfig {
  return validateEmulatorConfig(readJsonFile(file, parseJsonLossless), file)
}
