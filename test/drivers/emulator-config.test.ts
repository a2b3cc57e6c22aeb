import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { referenceFile } from '../helper.js'
import { loadEmulatorConfig, validateEmulatorConfig } from '../../emulators/device-bus/emulator-config.js'
import { jsonPath, parseJsonLossless } from '../../config/config-file.js'
import { EmulatorDevice } from '../../emulators/device-bus/emulator-device.js'
import { decodePacket } from '../../drivers/device-bus/packet-codec.js'
import { ConfigError, OpenDcreError } from '../../drivers/errors.js'
import { packageRoot } from '../../config/paths.js'

/** Emulator configuration files (seeds "OpenDCRE Emulator"; docs/protocol.md §7.1). */

const REFERENCE = join(packageRoot, 'test', 'fixtures', 'opendcre-v1.2-data')
const CONFIGS = join(packageRoot, 'test', 'fixtures', 'configs')
/** Not emulator configs: the service config and the IPMI bridge's BMC list. */
const NOT_EMULATOR = new Set(['opendcre_config.json', 'bmc_config_sample.json'])

function configError (fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

t.test('every reference emulator data file loads', async (t) => {
  const files = readdirSync(REFERENCE).filter((f) => f.endsWith('.json') && !NOT_EMULATOR.has(f)).sort()
  t.same(files, ['devicebus-data.json', 'emulator-data.json', 'endurance-data.json', 'scanall-data.json', 'simple.json'], 'the five emulator files are there')
  for (const file of files) {
    const config = loadEmulatorConfig(join(REFERENCE, file))
    t.ok(config.boards.length > 0, `${file}: ${config.boards.length} boards`)
  }
  t.equal(loadEmulatorConfig(join(REFERENCE, 'emulator-data.json')).boards.length, 8)
  t.ok((loadEmulatorConfig(join(REFERENCE, 'scanall-data.json')).scanall ?? []).length > 0, 'scanall scenarios are kept')
})

t.test('emulator-configs/simple.json is the reference simple.json', async (t) => {
  const ours = JSON.parse(readFileSync(join(packageRoot, 'emulator-configs', 'simple.json'), 'utf8')) as unknown
  // the reference's simple.json, vendored with its other data files under test/fixtures
  const reference = JSON.parse(readFileSync(referenceFile('simple.json'), 'utf8')) as unknown
  t.same(ours, reference)
  t.ok(readFileSync(join(packageRoot, 'emulator-configs', 'simple.json')).equals(readFileSync(referenceFile('simple.json'))), 'byte for byte')
  t.ok(loadEmulatorConfig(join(packageRoot, 'emulator-configs', 'simple.json')).boards.length > 0, 'and it loads')
})

t.test('a bad device id: file, JSON path and reason', async (t) => {
  const file = join(CONFIGS, 'emulator-bad-device-id.json')
  const err = configError(() => loadEmulatorConfig(file))
  t.ok(err instanceof OpenDcreError)
  t.equal(err.code, 'config')
  t.equal(err.file, file)
  t.equal(err.path, 'boards[1].devices[3].device_id')
  t.match(err.message, 'boards[1].devices[3].device_id: not a 4-digit hex string')
  t.equal(err.message, `${file}: boards[1].devices[3].device_id: not a 4-digit hex string`)
})

t.test('a missing board_id', async (t) => {
  const file = join(CONFIGS, 'emulator-missing-board-id.json')
  const err = configError(() => loadEmulatorConfig(file))
  t.equal(err.message, `${file}: boards[1].board_id: missing required field`)
})

t.test('a raw byte out of range (300)', async (t) => {
  const file = join(CONFIGS, 'emulator-bad-raw-byte.json')
  const err = configError(() => loadEmulatorConfig(file))
  t.match(err.message, file)
  t.match(err.path, /^boards\[0\]\.devices\[0\]\.read\.responses\[0\]/, 'the path leads to the bad response')
  t.match(err.message, /raw byte/, 'the reason speaks of raw bytes')
})

t.test('invalid JSON: the message names the file', async (t) => {
  const file = join(CONFIGS, 'emulator-invalid-json.json')
  const err = configError(() => loadEmulatorConfig(file))
  t.match(err.message, 'emulator-invalid-json.json')
  t.match(err.message, /invalid JSON/)
  t.equal(err.file, file)
})

t.test('a missing file', async (t) => {
  const file = join(CONFIGS, 'no-such-emulator-config.json')
  const err = configError(() => loadEmulatorConfig(file))
  t.match(err.message, 'no-such-emulator-config.json')
  t.match(err.message, /cannot read file \(ENOENT\)/)
})

t.test('duplicate board ids (compared as numbers, any case)', async (t) => {
  const file = join(CONFIGS, 'emulator-duplicate-board-id.json')
  const err = configError(() => loadEmulatorConfig(file))
  t.equal(err.message, `${file}: boards[2].board_id: duplicate board id 0000000A`)
})

t.test('a bigint response is kept exact', async (t) => {
  const config = loadEmulatorConfig(join(CONFIGS, 'emulator-bigint.json'))
  const responses = config.boards[0].devices?.[0].read?.responses ?? []
  t.equal(typeof responses[0], 'bigint')
  t.equal(responses[0], 12345678901234567890n)
  t.equal(responses[1], 9007199254740993n, '2^53 + 1 is not rounded')
  t.equal(typeof responses[2], 'number', 'safe integers stay numbers')
  t.equal(responses[2], 4100)
  t.equal(responses[3], 28.78)
  t.equal(responses[4], -5)
  // and the emulator sends it digit for digit
  const device = new EmulatorDevice(config)
  const answer = device.handle({ sequence: 1, deviceType: 0x82, boardId: 1, deviceId: 1, data: Buffer.from('R') })
  t.equal(decodePacket(answer[0]).data.toString(), '12345678901234567890')
})

t.test('parseJsonLossless', async (t) => {
  t.same(parseJsonLossless('{"a": [1, 2.5, null, "x", true]}'), { a: [1, 2.5, null, 'x', true] })
  t.equal(parseJsonLossless('18446744073709551616'), 18446744073709551616n)
  t.throws(() => parseJsonLossless('{"a": 1,}'))
})

t.test('schema errors name the JSON path and the reason', async (t) => {
  const device = (extra: Record<string, unknown>): unknown => ({ boards: [{ board_id: '00000001', firmware_version: 'v', devices: [{ device_id: '0001', device_type: 'led', ...extra }] }] })
  const table: Array<{ name: string, value: unknown, message: string | RegExp }> = [
    { name: 'unknown device type', value: device({ device_type: 'toaster' }), message: 'f.json: boards[0].devices[0].device_type: not a device type (led, system, power, humidity, pressure, fan_speed, current, temperature, thermistor, none)' },
    { name: 'action block without repeatable', value: device({ read: { responses: [] } }), message: 'f.json: boards[0].devices[0].read.repeatable: missing required field' },
    { name: 'device id too long', value: device({ device_id: '00001' }), message: 'f.json: boards[0].devices[0].device_id: not a 4-digit hex string' },
    { name: 'board id too short', value: { boards: [{ board_id: '1', firmware_version: 'v' }] }, message: /^f\.json: boards\[0\]\.board_id: not an? 8-digit hex string$/ },
    { name: 'no boards', value: {}, message: 'f.json: boards: missing required field' },
    { name: 'bad scan-all result', value: { boards: [], scanall: [{ initial: { result: 'maybe' } }] }, message: "f.json: scanall[0].initial.result: must be 'ok' or 'error'" },
    { name: 'duplicate device id on one board', value: { boards: [{ board_id: '00000001', firmware_version: 'v', devices: [{ device_id: '000a', device_type: 'led' }, { device_id: '000A', device_type: 'led' }] }] }, message: 'f.json: boards[0].devices[1].device_id: duplicate device id 000A on board 00000001' }
  ]
  for (const row of table) t.match(configError(() => validateEmulatorConfig(row.value, 'f.json')).message, row.message, row.name)
  t.match(configError(() => validateEmulatorConfig([], 'f.json')).message, /^f\.json: /, 'not an object at all')
})

t.test('raw bytes: 0-255, 999 and 1000-1255 only', async (t) => {
  const fw = (bytes: number[]): unknown => ({ boards: [{ board_id: '00000001', firmware_version: bytes }] })
  t.doesNotThrow(() => validateEmulatorConfig(fw([0, 255, 999, 1000, 1255]), 'f.json'))
  for (const bad of [256, 998, 1256, -1, 1.5]) {
    const err = configError(() => validateEmulatorConfig(fw([1, bad]), 'f.json'))
    t.match(err.path, /^boards\[0\]\.firmware_version/, `${bad} rejected at the firmware_version`)
  }
})

t.test('jsonPath turns JSON pointers into dotted paths', async (t) => {
  t.equal(jsonPath('/boards/1/devices/3/device_id'), 'boards[1].devices[3].device_id')
  t.equal(jsonPath(''), '')
  t.equal(jsonPath('/scanall/0/retry/2/result'), 'scanall[0].retry[2].result')
  t.equal(jsonPath('/a~1b/c~0d'), 'a/b.c~d')
})
