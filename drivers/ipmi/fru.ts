/**
 * FRU inventory parsing: Platform Management FRU Information Storage
 * Definition v1.0 (rev 1.3), sections 8 (common header), 10 (chassis info),
 * 11 (board info), 12 (product info) and 13 (type/length byte). Pure
 * functions over a byte image; a damaged area is reported in `errors` while
 * the other areas are still returned.
 */
import { IpmiError } from './types.js'

type FieldEncoding = 'binary' | 'bcd-plus' | '6-bit-ascii' | '8-bit' | 'unicode'

interface TypeLength {
  encoding: FieldEncoding
  /** Bytes that follow the type/length byte. */
  length: number
}

/**
 * §13: bits 7:6 type (00 binary or unspecified, 01 BCD plus, 10 6-bit packed
 * ASCII, 11 8-bit ASCII + Latin-1 for English, else 2-byte Unicode), bits 5:0
 * the number of data bytes. `lengthMask` is 0x3f for FRU fields and 0x1f for
 * SDR id strings (IPMI v2.0 §43.15).
 */
export function decodeTypeLength (byte: number, english = true, lengthMask = 0x3f): TypeLength {
  const type = byte >> 6
  const encoding: FieldEncoding = type === 0 ? 'binary' : type === 1 ? 'bcd-plus' : type === 2 ? '6-bit-ascii' : english ? '8-bit' : 'unicode'
  return { encoding, length: byte & lengthMask }
}

const BCD_PLUS = '0123456789 -.:,_'

/** BCD plus (§13.1): two characters a byte, high nibble first; 0xA space, 0xB dash, 0xC period. */
export function decodeBcdPlus (bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += BCD_PLUS[b >> 4] + BCD_PLUS[b & 0x0f]
  return out
}

/**
 * 6-bit packed ASCII (§13.2): four characters in three bytes, least significant
 * bits first; each 6-bit value is the character code minus 0x20.
 */
export function decodeSixBitAscii (bytes: Uint8Array): string {
  let out = ''
  const chars = Math.floor((bytes.length * 8) / 6)
  for (let i = 0; i < chars; i++) {
    const bit = i * 6
    const byte = bit >> 3
    const shift = bit & 7
    const word = bytes[byte] | ((bytes[byte + 1] ?? 0) << 8)
    out += String.fromCharCode(((word >> shift) & 0x3f) + 0x20)
  }
  return out
}

/** Decodes a field's bytes: text as text (padding trimmed), binary as lower-case hex (as ipmitool prints it). */
export function decodeField (encoding: FieldEncoding, bytes: Uint8Array): string {
  switch (encoding) {
    case 'binary': return Buffer.from(bytes).toString('hex')
    case 'bcd-plus': return decodeBcdPlus(bytes).trimEnd()
    case '6-bit-ascii': return decodeSixBitAscii(bytes).trimEnd()
    case 'unicode': return Buffer.from(bytes.subarray(0, bytes.length & ~1)).toString('utf16le').replace(/\0+$/, '')
    case '8-bit': return Buffer.from(bytes).toString('latin1').replace(/\0+$/, '')
  }
}

interface FruField {
  encoding: FieldEncoding
  value: string
}

export class FruFormatError extends IpmiError {
  constructor (message: string) {
    super('protocol', message)
    this.name = 'FruFormatError'
  }
}

/** Reads type/length fields from `at` until the 0xC1 end marker (§13). */
function readFields (area: Buffer, at: number, english: boolean, what: string): FruField[] {
  const fields: FruField[] = []
  for (;;) {
    if (at >= area.length - 1) throw new FruFormatError(`${what}: no end-of-fields marker (0xC1)`)
    const byte = area[at]
    if (byte === 0xc1) return fields
    const tl = decodeTypeLength(byte, english)
    const end = at + 1 + tl.length
    if (end > area.length - 1) throw new FruFormatError(`${what}: field at offset ${at} runs past the area`)
    fields.push({ encoding: tl.encoding, value: decodeField(tl.encoding, area.subarray(at + 1, end)) })
    at = end
  }
}

function zeroChecksumOk (bytes: Uint8Array): boolean {
  let sum = 0
  for (const b of bytes) sum = (sum + b) & 0xff
  return sum === 0
}

export interface FruCommonHeader {
  formatVersion: number
  /** Area offsets in bytes (the header stores multiples of 8); 0 = absent. */
  internalUseOffset: number
  chassisOffset: number
  boardOffset: number
  productOffset: number
  multiRecordOffset: number
}

export const FRU_HEADER_LENGTH = 8

/** §8: format version 0x01, five offsets in multiples of 8 bytes, pad, zero checksum. */
export function parseCommonHeader (bytes: Uint8Array): FruCommonHeader {
  if (bytes.length < FRU_HEADER_LENGTH) throw new FruFormatError(`FRU common header: ${bytes.length} byte(s), 8 expected`)
  const h = bytes.subarray(0, FRU_HEADER_LENGTH)
  if ((h[0] & 0x0f) !== 0x01) throw new FruFormatError(`FRU common header: format version 0x${h[0].toString(16)}, 0x01 expected`)
  if (!zeroChecksumOk(h)) throw new FruFormatError('FRU common header: bad checksum')
  return {
    formatVersion: h[0] & 0x0f,
    internalUseOffset: h[1] * 8,
    chassisOffset: h[2] * 8,
    boardOffset: h[3] * 8,
    productOffset: h[4] * 8,
    multiRecordOffset: h[5] * 8
  }
}

export interface ChassisInfoArea {
  /** SMBIOS chassis type code (0x17 = rack mount chassis). */
  type: number
  typeName: string
  partNumber: string
  serialNumber: string
  custom: string[]
}

export interface BoardInfoArea {
  language: number
  /** Manufacturing date/time, null when unspecified (0). */
  mfgDate: Date | null
  manufacturer: string
  productName: string
  serialNumber: string
  partNumber: string
  fruFileId: string
  custom: string[]
}

export interface ProductInfoArea {
  language: number
  manufacturer: string
  productName: string
  partNumber: string
  version: string
  serialNumber: string
  assetTag: string
  fruFileId: string
  custom: string[]
}

export type FruAreaName = 'header' | 'chassis' | 'board' | 'product'

export interface FruInventory {
  header?: FruCommonHeader
  chassis?: ChassisInfoArea
  board?: BoardInfoArea
  product?: ProductInfoArea
  /** One entry per area that could not be read; the other areas are still returned. */
  errors: Array<{ area: FruAreaName, message: string }>
}

/** SMBIOS 3.x table 17 chassis types, lower case (the v1.2 asset example says "rack mount chassis"). */
const CHASSIS_TYPES = [
  'unspecified', 'other', 'unknown', 'desktop', 'low profile desktop', 'pizza box', 'mini tower', 'tower',
  'portable', 'laptop', 'notebook', 'hand held', 'docking station', 'all in one', 'sub notebook',
  'space-saving', 'lunch box', 'main server chassis', 'expansion chassis', 'subchassis',
  'bus expansion chassis', 'peripheral chassis', 'raid chassis', 'rack mount chassis',
  'sealed-case pc', 'multi-system chassis', 'compact pci', 'advanced tca', 'blade', 'blade enclosure',
  'tablet', 'convertible', 'detachable', 'iot gateway', 'embedded pc', 'mini pc', 'stick pc'
]

export function chassisTypeName (type: number): string {
  return CHASSIS_TYPES[type] ?? `unknown (0x${type.toString(16).padStart(2, '0')})`
}

/** Minutes since 1996-01-01 00:00 UTC (§11, board area bytes 4-6). */
const FRU_EPOCH_MS = Date.UTC(1996, 0, 1)

function fruDate (minutes: number): Date | null {
  return minutes === 0 ? null : new Date(FRU_EPOCH_MS + minutes * 60_000)
}

function isEnglish (language: number): boolean {
  return language === 0 || language === 25
}

/** The bytes of one area: version 0x01, length in multiples of 8, zero checksum over the whole area. */
function areaBytes (image: Uint8Array, offset: number, what: string): Buffer {
  if (offset + 2 > image.length) throw new FruFormatError(`${what}: offset ${offset} is past the FRU data (${image.length} bytes)`)
  const version = image[offset] & 0x0f
  if (version !== 0x01) throw new FruFormatError(`${what}: format version 0x${image[offset].toString(16)}, 0x01 expected`)
  const length = image[offset + 1] * 8
  if (length < 8) throw new FruFormatError(`${what}: length 0`)
  if (offset + length > image.length) throw new FruFormatError(`${what}: ${length} bytes from offset ${offset} run past the FRU data (${image.length} bytes)`)
  const area = Buffer.from(image.subarray(offset, offset + length))
  if (!zeroChecksumOk(area)) throw new FruFormatError(`${what}: bad checksum`)
  return area
}

function pick (fields: FruField[], i: number): string {
  return fields[i]?.value ?? ''
}

function parseChassisArea (image: Uint8Array, offset: number): ChassisInfoArea {
  const area = areaBytes(image, offset, 'FRU chassis info area')
  const fields = readFields(area, 3, true, 'FRU chassis info area')
  return {
    type: area[2],
    typeName: chassisTypeName(area[2]),
    partNumber: pick(fields, 0),
    serialNumber: pick(fields, 1),
    custom: fields.slice(2).map(f => f.value)
  }
}

function parseBoardArea (image: Uint8Array, offset: number): BoardInfoArea {
  const area = areaBytes(image, offset, 'FRU board info area')
  const language = area[2]
  const fields = readFields(area, 6, isEnglish(language), 'FRU board info area')
  return {
    language,
    mfgDate: fruDate(area[3] | (area[4] << 8) | (area[5] << 16)),
    manufacturer: pick(fields, 0),
    productName: pick(fields, 1),
    serialNumber: pick(fields, 2),
    partNumber: pick(fields, 3),
    fruFileId: pick(fields, 4),
    custom: fields.slice(5).map(f => f.value)
  }
}

function parseProductArea (image: Uint8Array, offset: number): ProductInfoArea {
  const area = areaBytes(image, offset, 'FRU product info area')
  const language = area[2]
  const fields = readFields(area, 3, isEnglish(language), 'FRU product info area')
  return {
    language,
    manufacturer: pick(fields, 0),
    productName: pick(fields, 1),
    partNumber: pick(fields, 2),
    version: pick(fields, 3),
    serialNumber: pick(fields, 4),
    assetTag: pick(fields, 5),
    fruFileId: pick(fields, 6),
    custom: fields.slice(7).map(f => f.value)
  }
}

function message (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Parses a FRU image (or the header and areas of one placed at their offsets). */
export function parseFru (image: Uint8Array): FruInventory {
  const inv: FruInventory = { errors: [] }
  try {
    inv.header = parseCommonHeader(image)
  } catch (err) {
    inv.errors.push({ area: 'header', message: message(err) })
    return inv
  }
  const h = inv.header
  if (h.chassisOffset !== 0) {
    try { inv.chassis = parseChassisArea(image, h.chassisOffset) } catch (err) { inv.errors.push({ area: 'chassis', message: message(err) }) }
  }
  if (h.boardOffset !== 0) {
    try { inv.board = parseBoardArea(image, h.boardOffset) } catch (err) { inv.errors.push({ area: 'board', message: message(err) }) }
  }
  if (h.productOffset !== 0) {
    try { inv.product = parseProductArea(image, h.productOffset) } catch (err) { inv.errors.push({ area: 'product', message: message(err) }) }
  }
  return inv
}

/** The v1.2 asset response's areas, with exactly its field names. */
export type AssetBoardInfo = { manufacturer: string, part_number: string, product_name: string, serial_number: string }
export type AssetChassisInfo = { chassis_type: string, part_number: string, serial_number: string }
export type AssetProductInfo = { asset_tag: string, manufacturer: string, part_number: string, product_name: string, serial_number: string, version: string }
export interface AssetFru {
  board_info?: AssetBoardInfo
  chassis_info?: AssetChassisInfo
  product_info?: AssetProductInfo
}

/** Maps parsed areas to the v1.2 asset shape; areas absent or damaged are left out. */
export function toAssetInfo (inv: FruInventory): AssetFru {
  const out: AssetFru = {}
  if (inv.board !== undefined) {
    const b = inv.board
    out.board_info = { manufacturer: b.manufacturer, part_number: b.partNumber, product_name: b.productName, serial_number: b.serialNumber }
  }
  if (inv.chassis !== undefined) {
    const c = inv.chassis
    out.chassis_info = { chassis_type: c.typeName, part_number: c.partNumber, serial_number: c.serialNumber }
  }
  if (inv.product !== undefined) {
    const p = inv.product
    out.product_info = { asset_tag: p.assetTag, manufacturer: p.manufacturer, part_number: p.partNumber, product_name: p.productName, serial_number: p.serialNumber, version: p.version }
  }
  return out
}
