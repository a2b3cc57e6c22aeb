import t from 'tap'
import {
  chassisTypeName,
  decodeBcdPlus,
  decodeField,
  decodeSixBitAscii,
  decodeTypeLength,
  parseCommonHeader,
  parseFru,
  toAssetInfo,
  type FruInventory
} from '../../../drivers/ipmi/fru.js'
import { fruPrintFields, ipmitoolOutput, loadRecorded, recordedFru } from './ipmi-test-kit.js'

/**
 * FRU inventory (Platform Management FRU Information Storage Definition v1.0):
 * §8 common header, §10-12 chassis/board/product areas, §13 type/length byte.
 * The recorded images come from ipmi_sim's Read FRU Data (raw 0x0a 0x11) and
 * are checked field by field against `ipmitool fru print` of the same BMC.
 */

t.test('§13 type/length byte', async t => {
  const vectors: Array<{ name: string, byte: number, expected: ReturnType<typeof decodeTypeLength> }> = [
    { name: '0x00: binary, empty', byte: 0x00, expected: { encoding: 'binary', length: 0 } },
    { name: '0x04: binary, 4 bytes', byte: 0x04, expected: { encoding: 'binary', length: 4 } },
    { name: '0x45: BCD plus, 5 bytes', byte: 0x45, expected: { encoding: 'bcd-plus', length: 5 } },
    { name: '0x86: 6-bit packed ASCII, 6 bytes', byte: 0x86, expected: { encoding: '6-bit-ascii', length: 6 } },
    { name: '0xc8: 8-bit ASCII + Latin-1, 8 bytes', byte: 0xc8, expected: { encoding: '8-bit', length: 8 } },
    { name: '0xc1: the end marker reads as an 8-bit field of 1', byte: 0xc1, expected: { encoding: '8-bit', length: 1 } },
    { name: '0xff: 63 bytes', byte: 0xff, expected: { encoding: '8-bit', length: 63 } }
  ]
  for (const v of vectors) t.same(decodeTypeLength(v.byte), v.expected, v.name)
  t.same(decodeTypeLength(0xc8, false), { encoding: 'unicode', length: 8 }, 'type 11 outside English is 2-byte Unicode')
  t.same(decodeTypeLength(0xff, true, 0x1f), { encoding: '8-bit', length: 31 }, 'SDR id strings use bits 4:0 (IPMI §43.15)')
})

t.test('§13 field encodings', async t => {
  // The spec's 6-bit example: "IPMI" packs to 29 dc a6.
  t.equal(decodeSixBitAscii(Buffer.from('29dca6', 'hex')), 'IPMI')
  t.equal(decodeSixBitAscii(Buffer.from('73244d54655d', 'hex')), 'S1234567')
  t.equal(decodeField('6-bit-ascii', Buffer.from('e128d58d0b00', 'hex')), 'AC2U-N', 'pad spaces trimmed')
  t.equal(decodeBcdPlus(Buffer.from('12b34567', 'hex')), '12-34567')
  t.equal(decodeBcdPlus(Buffer.from('4711c0815a', 'hex')), '4711.0815 ', 'A is space, C is period')
  t.equal(decodeField('bcd-plus', Buffer.from('4711c0815a', 'hex')), '4711.0815')
  t.equal(decodeField('binary', Buffer.from('deadbeef', 'hex')), 'deadbeef', 'binary as hex, as ipmitool prints it')
  t.equal(decodeField('8-bit', Buffer.from('56617021ff00', 'hex')), 'Vap!\u00ff', 'Latin-1, trailing NULs dropped')
  t.equal(decodeField('unicode', Buffer.from('4f004b00', 'hex')), 'OK')
})

/** A FRU image from areas given as field lists, checksums computed here. */
function area (prefix: number[], fields: number[][]): number[] {
  const body = [0x01, 0, ...prefix, ...fields.flat(), 0xc1]
  while ((body.length + 1) % 8 !== 0) body.push(0)
  body[1] = (body.length + 1) / 8
  body.push((0x100 - (body.reduce((a, b) => a + b, 0) & 0xff)) & 0xff)
  return body
}
const s8 = (s: string): number[] => [0xc0 | s.length, ...Buffer.from(s, 'latin1')]

function image (chassis: number[], board: number[], product: number[]): Buffer {
  const header = [0x01, 0x00, 1, 1 + chassis.length / 8, 1 + (chassis.length + board.length) / 8, 0, 0]
  header.push((0x100 - (header.reduce((a, b) => a + b, 0) & 0xff)) & 0xff)
  return Buffer.from([...header, ...chassis, ...board, ...product])
}

const CHASSIS = area([0x17], [s8('P1'), s8('S1')])
const BOARD = area([0x19, 0x01, 0x00, 0x00], [s8('Vapor IO'), s8('Board'), s8('BS1'), s8('BP1'), s8(''), s8('x=1')])
const PRODUCT = area([0x19], [s8('Vapor IO'), s8('Product'), s8('PP1'), s8('v1'), s8('PS1'), s8('AT1'), s8('')])

t.test('§8-12 a whole image', async t => {
  const inv = parseFru(image(CHASSIS, BOARD, PRODUCT))
  t.same(inv.errors, [])
  t.same(inv.header, { formatVersion: 1, internalUseOffset: 0, chassisOffset: 8, boardOffset: 8 + CHASSIS.length, productOffset: 8 + CHASSIS.length + BOARD.length, multiRecordOffset: 0 })
  t.same(inv.chassis, { type: 0x17, typeName: 'rack mount chassis', partNumber: 'P1', serialNumber: 'S1', custom: [] })
  t.same(inv.board, { language: 25, mfgDate: new Date('1996-01-01T00:01:00Z'), manufacturer: 'Vapor IO', productName: 'Board', serialNumber: 'BS1', partNumber: 'BP1', fruFileId: '', custom: ['x=1'] })
  t.same(inv.product, { language: 25, manufacturer: 'Vapor IO', productName: 'Product', partNumber: 'PP1', version: 'v1', serialNumber: 'PS1', assetTag: 'AT1', fruFileId: '', custom: [] })
  const asset = toAssetInfo(inv)
  t.same(Object.keys(asset).sort(), ['board_info', 'chassis_info', 'product_info'])
  t.same(Object.keys(asset.board_info ?? {}).sort(), ['manufacturer', 'part_number', 'product_name', 'serial_number'], 'the v1.2 schema names, no more')
  t.same(Object.keys(asset.chassis_info ?? {}).sort(), ['chassis_type', 'part_number', 'serial_number'])
  t.same(Object.keys(asset.product_info ?? {}).sort(), ['asset_tag', 'manufacturer', 'part_number', 'product_name', 'serial_number', 'version'])
  t.same(asset.chassis_info, { chassis_type: 'rack mount chassis', part_number: 'P1', serial_number: 'S1' })
  t.equal(chassisTypeName(0x11), 'main server chassis')
  t.equal(chassisTypeName(0x99), 'unknown (0x99)')
})

t.test('a damaged area is reported, the others still returned', async t => {
  const bad = image(CHASSIS, BOARD, PRODUCT)
  bad[8 + CHASSIS.length + 5] ^= 0x20 // a byte of the board area: its checksum no longer adds up
  let inv: FruInventory = parseFru(bad)
  t.same(inv.errors, [{ area: 'board', message: 'FRU board info area: bad checksum' }])
  t.ok(inv.chassis !== undefined && inv.product !== undefined && inv.board === undefined)
  t.same(Object.keys(toAssetInfo(inv)).sort(), ['chassis_info', 'product_info'])

  const badHeader = image(CHASSIS, BOARD, PRODUCT)
  badHeader[7] ^= 1
  inv = parseFru(badHeader)
  t.same(inv.errors, [{ area: 'header', message: 'FRU common header: bad checksum' }])
  t.same(toAssetInfo(inv), {})

  const truncated = image(CHASSIS, BOARD, PRODUCT).subarray(0, 8 + CHASSIS.length + BOARD.length + 10)
  inv = parseFru(truncated)
  t.match(inv.errors, [{ area: 'product', message: /run past the FRU data/ }])
  t.ok(inv.board !== undefined)

  const noEnd = area([0x17], [s8('P1')])
  noEnd[noEnd.indexOf(0xc1)] = 0x00 // end marker gone, checksum fixed up below
  noEnd[noEnd.length - 1] = (noEnd[noEnd.length - 1] + 0xc1) & 0xff
  inv = parseFru(image(noEnd, BOARD, PRODUCT))
  t.match(inv.errors, [{ area: 'chassis', message: /no end-of-fields marker/ }])

  const overrun = area([0x17], [[0xc8, 0x41]])
  inv = parseFru(image(overrun, BOARD, PRODUCT))
  t.match(inv.errors, [{ area: 'chassis' }], 'a field longer than its area')

  t.throws(() => parseCommonHeader(Buffer.from('0200000000000000', 'hex')), { name: 'FruFormatError', message: /format version/ })
  t.throws(() => parseCommonHeader(Buffer.alloc(4)), { name: 'FruFormatError' })
  t.same(parseFru(Buffer.alloc(0)).errors.map(e => e.area), ['header'])

  // Every prefix of a good image: parsed, with errors at worst; never a throw.
  const good = image(CHASSIS, BOARD, PRODUCT)
  for (let n = 0; n <= good.length; n++) parseFru(good.subarray(0, n))
  t.pass('no prefix throws')
})

t.test('recorded FRU images equal ipmitool fru print', async t => {
  const rec = await loadRecorded()
  for (const name of ['bmc-a', 'bmc-b'] as const) {
    const bmc = rec.bmcs[name]
    const inv = parseFru(recordedFru(bmc))
    t.same(inv.errors, [], `${name}: every area readable`)
    const p = fruPrintFields(ipmitoolOutput(bmc, 'fru print'))
    const same = (ours: string | undefined, label: string): void => {
      // ipmitool keeps BCD plus / 6-bit padding; ours is trimmed.
      t.equal(ours, p.get(label)?.trimEnd(), `${name} ${label}`)
    }
    t.equal(inv.chassis?.typeName, p.get('Chassis Type')?.toLowerCase(), 'chassis type in lower case, as the v1.2 example')
    same(inv.chassis?.partNumber, 'Chassis Part Number')
    same(inv.chassis?.serialNumber, 'Chassis Serial')
    same(inv.chassis?.custom[0], 'Chassis Extra')
    same(inv.board?.manufacturer, 'Board Mfg')
    same(inv.board?.productName, 'Board Product')
    same(inv.board?.serialNumber, 'Board Serial')
    same(inv.board?.partNumber, 'Board Part Number')
    same(inv.board?.custom[0], 'Board Extra')
    same(inv.product?.manufacturer, 'Product Manufacturer')
    same(inv.product?.productName, 'Product Name')
    same(inv.product?.partNumber, 'Product Part Number')
    same(inv.product?.version, 'Product Version')
    same(inv.product?.serialNumber, 'Product Serial')
    t.equal(inv.product?.assetTag ?? '', p.get('Product Asset Tag') ?? '', `${name} Product Asset Tag`)
    if (inv.board?.mfgDate === null) t.equal(p.get('Board Mfg Date'), 'Unspecified')
    else t.equal(inv.board?.mfgDate?.toISOString(), new Date(String(p.get('Board Mfg Date'))).toISOString(), `${name} Board Mfg Date`)
  }
  const a = parseFru(recordedFru(rec.bmcs['bmc-a']))
  t.same(toAssetInfo(a), {
    board_info: { manufacturer: 'Vapor IO', part_number: '0001', product_name: 'Example Board', serial_number: 'S1234567' },
    chassis_info: { chassis_type: 'rack mount chassis', part_number: 'P1234567', serial_number: '12-34567' },
    product_info: { asset_tag: 'A1234567', manufacturer: 'Vapor IO', part_number: 'P1234567', product_name: 'Example Product', serial_number: 'S1234567', version: 'v1.2.0' }
  }, 'bmc-a: the v1.2 asset example values')
  t.same(a.board?.fruFileId, 'FRU-A-BRD')
  t.same(a.product?.custom, ['build=7'])
  const b = parseFru(recordedFru(rec.bmcs['bmc-b']))
  t.equal(b.board?.custom[0], 'deadbeef', 'binary custom field')
  t.equal(b.product?.assetTag, '', 'empty asset tag')
})
