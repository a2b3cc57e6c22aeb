import { Type } from '@sinclair/typebox'
import { BOARD_ID_BITS, MAX_BUS_BOARD_ID } from '../drivers/device-bus/device-types.js'
import { OpenDcreError } from '../drivers/errors.js'

/**
 * URL parameters. v1.2 answers every malformed id with 500 + {"message"}, so
 * a schema failure here goes through the same error handler as a failed command.
 * Ids are hexadecimal, any number of leading zeros, optional 0x, any case.
 */
const HEX_ID = '^[+]?(0[xX])?[0-9a-fA-F]+$'

export const BoardIdParam = Type.String({ pattern: HEX_ID, minLength: 1, maxLength: 64, description: 'board id, hexadecimal' })
export const DeviceIdParam = Type.String({ pattern: HEX_ID, minLength: 1, maxLength: 64, description: 'device id, hexadecimal' })

export const BoardParams = Type.Object({ board_id: BoardIdParam })
export const DeviceParams = Type.Object({ board_id: BoardIdParam, device_id: DeviceIdParam })

const HEX_ID_RE = new RegExp(HEX_ID)

function parseHex (text: string, name: string): bigint {
  if (!HEX_ID_RE.test(text)) {
    throw new OpenDcreError('invalid-argument', `Error converting ${name} to integer (invalid literal for int() with base 16: '${text}').`)
  }
  const digits = text.replace(/^[+]/, '').replace(/^0[xX]/, '')
  return BigInt(`0x${digits}`)
}

/**
 * A board id from the URL: bus boards are 0..0x00FFFFFF, IPMI boards carry
 * bit 30 (0x40000000..0x7FFFFFFF); every other id is refused.
 */
export function parseBoardId (text: string): number {
  const id = parseHex(text, 'board_num')
  if (id > 0xffffffffn || (id > BigInt(MAX_BUS_BOARD_ID) && (id & BigInt(BOARD_ID_BITS.ipmi)) === 0n)) {
    throw new OpenDcreError('invalid-argument', `Error converting board_num to integer (Board number ${text} specified is out of range. Only IPMI and PLC boards with a positive ID value may be used for this command.).`)
  }
  return Number(id)
}

/** A device id from the URL: 0..0xFFFF (v1.2 mangled larger ids on the wire; we refuse them). */
export function parseDeviceId (text: string): number {
  const id = parseHex(text, 'device_num')
  if (id > 0xffffn) throw new OpenDcreError('invalid-argument', `Device number must be <= 0xFFFF (${text}).`)
  return Number(id)
}
