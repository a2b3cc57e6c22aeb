// Port of OpenDCRE v1.2's `test-emulator.py` suite (tests/data/emulator-data.json):
// LineNoiseRetries -> EmulatorCounterTestCase -> ScanAllTestCase, in that order,
// against ONE service instance. The raw packets in emulator-data.json carry
// hard-coded sequence numbers, so this suite only passes if the client's
// sequence counter starts at 1 and advances exactly as v1.2's did (one number
// per command and per '?' retry; scan-all's DumpCommand must carry seq 88).
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { fails, ok, type Json } from '../compat-helper.js'

/** The suite's cases in the reference order, against one service on emulator-data.json. */
export async function emulatorSuite (t: Test, app: FastifyInstance): Promise<void> {
  // ---------------------------------------------------------------- LineNoiseRetries
  // (tests/test_line_noise_retries.py) boards 0x10-0x14; seqs 1-45

  await t.test('LineNoiseRetries 001: /read/thermistor/10/01ff retries once', async (t) => {
    const body = await ok(t, app, '/read/thermistor/10/01ff')
    t.equal(body.temperature_c, 28.78)
  })

  await t.test('LineNoiseRetries 002: /power/status/10/02ff retries once', async (t) => {
    const body = await ok(t, app, '/power/status/10/02ff')
    t.equal(body.pmbus_raw, '0,0,0,0')
  })

  await t.test('LineNoiseRetries 003: /version/10 retries once', async (t) => {
    const body = await ok(t, app, '/version/10')
    t.equal(body.firmware_version, '12345')
  })

  await t.test('LineNoiseRetries 004: /read/thermistor/11/01ff retries twice', async (t) => {
    const body = await ok(t, app, '/read/thermistor/11/01ff')
    t.equal(body.temperature_c, 28.78)
  })

  await t.test('LineNoiseRetries 005: /power/status/11/02ff retries twice', async (t) => {
    const body = await ok(t, app, '/power/status/11/02ff')
    t.equal(body.pmbus_raw, '0,0,0,0')
  })

  await t.test('LineNoiseRetries 006: /version/11 retries twice', async (t) => {
    const body = await ok(t, app, '/version/11')
    t.equal(body.firmware_version, '12345')
  })

  await t.test('LineNoiseRetries 007: /read/thermistor/12/01ff third retry valid', async (t) => {
    const body = await ok(t, app, '/read/thermistor/12/01ff')
    t.equal(body.temperature_c, 28.78)
  })

  await t.test('LineNoiseRetries 008: /power/status/12/02ff third retry valid', async (t) => {
    const body = await ok(t, app, '/power/status/12/02ff')
    t.equal(body.pmbus_raw, '0,0,0,0')
  })

  await t.test('LineNoiseRetries 009: /version/12 third retry valid', async (t) => {
    const body = await ok(t, app, '/version/12')
    t.equal(body.firmware_version, '12345')
  })

  await t.test('LineNoiseRetries 010: /read/thermistor/13/01ff retry limit reached', async (t) => {
    await fails(t, app, '/read/thermistor/13/01ff')
  })

  await t.test('LineNoiseRetries 011: /power/status/13/02ff retry limit reached', async (t) => {
    await fails(t, app, '/power/status/13/02ff')
  })

  await t.test('LineNoiseRetries 012: /version/13 retry limit reached', async (t) => {
    await fails(t, app, '/version/13')
  })

  await t.test('LineNoiseRetries 013: /read/thermistor/14/01ff no answer to the retry', async (t) => {
    await fails(t, app, '/read/thermistor/14/01ff')
  })

  await t.test('LineNoiseRetries 014: /power/status/14/02ff no answer to the retry', async (t) => {
    await fails(t, app, '/power/status/14/02ff')
  })

  await t.test('LineNoiseRetries 015: /version/14 no answer to the retry', async (t) => {
    await fails(t, app, '/version/14')
  })

  // ---------------------------------------------------------------- EmulatorCounterTestCase
  // (tests/test_emulator.py) per-device response counters; seqs 46-87

  async function temperature (t: Test, path: string, expected: number): Promise<void> {
    const body = await ok(t, app, path)
    t.equal(body.temperature_c, expected, `${path}: temperature_c ${expected}`)
  }

  async function pmbus (t: Test, path: string, expected: string): Promise<void> {
    const body = await ok(t, app, path)
    t.equal(body.pmbus_raw, expected, `${path}: pmbus_raw ${expected}`)
  }

  await t.test('EmulatorCounterTestCase 001: same board, same device', async (t) => {
    await temperature(t, '/read/temperature/00000001/01FF', 100)
    await temperature(t, '/read/temperature/00000001/01FF', 101)
    await temperature(t, '/read/temperature/00000001/01FF', 102)
  })

  await t.test('EmulatorCounterTestCase 002: same board, different devices', async (t) => {
    await temperature(t, '/read/temperature/00000001/01FF', 103)
    await temperature(t, '/read/temperature/00000001/03FF', 200)
    await temperature(t, '/read/temperature/00000001/01FF', 104)
    await temperature(t, '/read/temperature/00000001/03FF', 201)
  })

  await t.test('EmulatorCounterTestCase 003: different boards, different devices', async (t) => {
    await temperature(t, '/read/temperature/00000001/03FF', 202)
    await temperature(t, '/read/temperature/00000003/02FF', 800)
    await temperature(t, '/read/temperature/00000001/03FF', 203)
    await temperature(t, '/read/temperature/00000003/02FF', 801)
  })

  await t.test('EmulatorCounterTestCase 004: read until wraparound', async (t) => {
    const expected: Array<[string, number]> = [
      ['0CFF', 600], ['0AFF', 500], ['0CFF', 601], ['0AFF', 501],
      ['0CFF', 602], ['0AFF', 502], ['0CFF', 603], ['0AFF', 503],
      // 0CFF wraps (repeatable, list exhausted); 0AFF does not yet
      ['0CFF', 600], ['0AFF', 504], ['0CFF', 601], ['0AFF', 505]
    ]
    for (const [device, value] of expected) {
      await temperature(t, `/read/temperature/00000001/${device}`, value)
    }
  })

  await t.test('EmulatorCounterTestCase 005: power, same board, different devices', async (t) => {
    await pmbus(t, '/power/status/00000001/06FF', '0,0,0,0')
    await pmbus(t, '/power/status/00000001/07FF', '0,0,0,0')
    await pmbus(t, '/power/status/00000001/06FF', '64,0,0,0')
    await pmbus(t, '/power/status/00000001/07FF', '64,0,0,0')
    await pmbus(t, '/power/status/00000001/06FF', '2048,0,0,0')
    await pmbus(t, '/power/status/00000001/07FF', '2048,0,0,0')
    // repeatable: cycles back
    await pmbus(t, '/power/status/00000001/06FF', '0,0,0,0')
    // not repeatable: no more answers
    await fails(t, app, '/power/status/00000001/07FF')
  })

  await t.test('EmulatorCounterTestCase 006: power and read alternation', async (t) => {
    await temperature(t, '/read/temperature/00000001/08FF', 300)
    await temperature(t, '/read/temperature/00000001/08FF', 301)
    await temperature(t, '/read/temperature/00000001/08FF', 302)
    await pmbus(t, '/power/status/00000001/05FF', '0,0,0,0')
    await temperature(t, '/read/temperature/00000001/08FF', 303)
    await pmbus(t, '/power/status/00000001/05FF', '64,0,0,0')
    await temperature(t, '/read/temperature/00000001/08FF', 304)
    await pmbus(t, '/power/status/00000001/05FF', '2048,0,0,0')
    await temperature(t, '/read/temperature/00000001/08FF', 305)
    await pmbus(t, '/power/status/00000001/05FF', '2056,0,0,0')
    await temperature(t, '/read/temperature/00000001/08FF', 306)
  })

  // ---------------------------------------------------------------- ScanAllTestCase
  // (tests/test_emulator_scan.py)

  await t.test('ScanAllTestCase 001: /scan finds all 8 boards (DumpCommand carries seq 88)', async (t) => {
    const body = await ok(t, app, '/scan')
    const boards: Json[] = Array.isArray(body.boards) ? body.boards : []
    t.equal(boards.length, 8, '8 boards')
    const expectedIds = ['00000001', '00000003', '00000010', '00000011', '00000012', '00000013', '00000014', '12345678']
    for (const board of boards) {
      t.ok(expectedIds.includes(board.board_id), `board ${String(board.board_id)} is expected`)
    }
  })

  await t.test('ScanAllTestCase 002: scan boards individually', async (t) => {
    await ok(t, app, '/scan/00000001')
    await ok(t, app, '/scan/00000003')
    await ok(t, app, '/scan/00000010')
  })

  await t.test('ScanAllTestCase 003: scan nonexistent boards', async (t) => {
    await fails(t, app, '/scan/0000000A')
    await fails(t, app, '/scan/004920A6')
    await fails(t, app, '/scan/00654321')
  })
}
