// Port of OpenDCRE v1.2's `test-scanall.py` suite (tests/data/scanall-data.json,
// 10 boards 00000001-0000000A). The emulator walks a `scanall` script of
// scenarios, one per scan-all request, advancing after the scenario's shuffle
// retries: the cases only line up if every failing scan-all makes exactly 3
// transmissions (one initial + two shuffle-bit re-sends), as v1.2's did. One
// service instance serves the whole suite, cases in the reference order.
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { fails, ok } from '../compat-helper.js'

/** The suite's cases in the reference order, against one service on scanall-data.json. */
export async function scanallSuite (t: Test, app: FastifyInstance): Promise<void> {
  // ---------------------------------------------------------------- ScanAllTestCase
  // (tests/test_scanall.py)

  await t.test('ScanAllTestCase 001: scan all ok (10 boards)', async (t) => {
    const body = await ok(t, app, '/scan')
    t.equal(body.boards?.length, 10, '10 boards')
  })

  await t.test('ScanAllTestCase 002: scan all fails (error, error, error)', async (t) => {
    await fails(t, app, '/scan')
  })

  await t.test('ScanAllTestCase 003: scan all ok after two bad attempts', async (t) => {
    const body = await ok(t, app, '/scan')
    t.equal(body.boards?.length, 10, '10 boards')
  })

  await t.test('ScanAllTestCase 004: scan all ok after one bad attempt', async (t) => {
    const body = await ok(t, app, '/scan')
    t.equal(body.boards?.length, 10, '10 boards')
  })

  await t.test('ScanAllTestCase 005: scan all error, then read', async (t) => {
    await fails(t, app, '/scan')
    const body = await ok(t, app, '/read/temperature/00000002/2000')
    t.equal(body.temperature_c, 28.78)
  })

  await t.test('ScanAllTestCase 006: scan all error, then scan one board', async (t) => {
    await fails(t, app, '/scan')
    const body = await ok(t, app, '/scan/00000001')
    t.equal(body.boards?.length, 1, '1 board')
    t.equal(body.boards?.[0]?.devices?.length, 2, '2 devices')
  })
}
