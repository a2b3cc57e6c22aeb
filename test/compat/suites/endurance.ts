// Port of OpenDCRE v1.2's `test-endurance.py` suite (tests/data/endurance-data.json):
// EnduranceTestCase -> ThreadedTestCase -> ThroughputTestCase, in that order,
// against ONE service instance. Board 00000001: 01FF thermistor, 0CFF
// humidity; board 0000000A: 01FF thermistor, 02FF power, 0CFF humidity; no
// board 0000000B. The reference's threads become concurrent app.inject calls
// (Promise.all): the service must serialise them on the bus and answer each.
import type { Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { get } from '../../helper.js'

type Json = Record<string, any>

/** Concurrent "threads" per ThreadedTestCase test (THREAD_COUNT in test_threaded.py). */
const THREAD_COUNT = 25
/** Concurrent "threads" per ThroughputTestCase test (THREAD_COUNT in test_throughput.py). */
const THROUGHPUT_COUNT = 10

/** Check a response: status, and for an error our JSON contract ({"message": string}). */
function check (t: Test, res: LightMyRequestResponse, path: string, status: number): Json {
  t.equal(res.statusCode, status, `GET ${path} -> ${status}`)
  let body: Json = {}
  try {
    body = res.json()
  } catch {
    t.fail(`GET ${path}: body is not JSON: ${res.body}`)
  }
  if (status >= 400) t.type(body.message, 'string', `GET ${path}: body has a string message`)
  return body
}

async function request (t: Test, app: FastifyInstance, path: string, status: number): Promise<Json> {
  return check(t, await get(app, path), path, status)
}

/** Run `count` concurrent "threads" and wait for all of them. */
async function threads (count: number, body: (i: number) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: count }, async (_, i) => await body(i)))
}

/** The same GET from `count` concurrent callers; every response is checked. */
async function concurrent (t: Test, app: FastifyInstance, count: number, path: string, status: number,
  checkBody?: (body: Json) => void): Promise<void> {
  const responses = await Promise.all(Array.from({ length: count }, async () => await get(app, path)))
  t.equal(responses.length, count, `${count} responses to GET ${path}`)
  for (const res of responses) {
    const body = check(t, res, path, status)
    checkBody?.(body)
  }
}

/** A small deterministic PRNG (mulberry32) so the "random" request mix is reproducible. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let r = Math.imul(a ^ (a >>> 15), 1 | a)
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296
  }
}

/** The suite's cases in the reference order, against one service on endurance-data.json. */
export async function enduranceSuite (t: Test, app: FastifyInstance): Promise<void> {
  // ---------------------------------------------------------------- EnduranceTestCase
  // (tests/test_endurance.py)

  await t.test('EnduranceTestCase 001: 100 random good requests', async (t) => {
    const urls = [
      '/scan/00000001',
      '/version/00000001',
      '/read/thermistor/00000001/01FF',
      '/read/humidity/00000001/0CFF'
    ]
    const random = prng(0x0DC2E12)
    for (let x = 0; x < 100; x++) {
      await request(t, app, urls[Math.floor(random() * urls.length)], 200)
    }
  })

  await t.test('EnduranceTestCase 002: 100 x (thermistor read, humidity read)', async (t) => {
    for (let x = 0; x < 100; x++) {
      await request(t, app, '/read/thermistor/00000001/01FF', 200)
      await request(t, app, '/read/humidity/00000001/0CFF', 200)
    }
  })

  // ---------------------------------------------------------------- ThreadedTestCase
  // (tests/test_threaded.py) 25 concurrent callers per test, all awaited

  function goodThermistor (t: Test): (body: Json) => void {
    return (body) => {
      const value = body.temperature_c
      t.ok(typeof value === 'number' && Math.abs(value - 28.7) <= 0.1, `temperature_c ${String(value)} within 0.1 of 28.7`)
    }
  }

  function goodHumidity (t: Test): (body: Json) => void {
    return (body) => {
      t.equal(body.temperature_c, 16.24, 'temperature_c 16.24')
      t.equal(body.humidity, 38.43, 'humidity 38.43')
    }
  }

  await t.test('ThreadedTestCase 001: good scan results', async (t) => {
    await concurrent(t, app, THREAD_COUNT, '/scan/0000000A', 200, (body) => {
      t.equal(body.boards?.length, 1, '1 board')
      t.equal(body.boards?.[0]?.devices?.length, 3, '3 devices')
    })
  })

  await t.test('ThreadedTestCase 002: bad scan results', async (t) => {
    await concurrent(t, app, THREAD_COUNT, '/scan/0000000B', 500)
  })

  await t.test('ThreadedTestCase 003: good version results', async (t) => {
    await concurrent(t, app, THREAD_COUNT, '/version/0000000A', 200, (body) => {
      t.equal(body.firmware_version, 'Version Response 1')
    })
  })

  await t.test('ThreadedTestCase 004: bad version results', async (t) => {
    await concurrent(t, app, THREAD_COUNT, '/version/0000000B', 500)
  })

  await t.test('ThreadedTestCase 005: good read results', async (t) => {
    await concurrent(t, app, THREAD_COUNT, '/read/thermistor/0000000A/01FF', 200, goodThermistor(t))
    await concurrent(t, app, THREAD_COUNT, '/read/humidity/0000000A/0CFF', 200, goodHumidity(t))
  })

  await t.test('ThreadedTestCase 006: bad read results', async (t) => {
    await concurrent(t, app, THREAD_COUNT, '/read/thermistor/0000000B/01FF', 500)
    await concurrent(t, app, THREAD_COUNT, '/read/humidity/0000000B/0CFF', 500)
  })

  await t.test('ThreadedTestCase 007: good multi read results', async (t) => {
    let finished = 0
    await threads(THREAD_COUNT, async () => {
      goodThermistor(t)(await request(t, app, '/read/thermistor/0000000A/01FF', 200))
      goodHumidity(t)(await request(t, app, '/read/humidity/0000000A/0CFF', 200))
      finished++
    })
    t.equal(finished, THREAD_COUNT, 'every caller finished both reads')
  })

  await t.test('ThreadedTestCase 008: bad multi read results', async (t) => {
    let finished = 0
    await threads(THREAD_COUNT, async () => {
      await request(t, app, '/read/thermistor/0000000B/01FF', 500)
      await request(t, app, '/read/humidity/0000000B/0CFF', 500)
      finished++
    })
    t.equal(finished, THREAD_COUNT, 'every caller finished both reads')
  })

  await t.test('ThreadedTestCase 009: good power results', async (t) => {
    await concurrent(t, app, THREAD_COUNT, '/power/status/0000000A/02FF', 200, (body) => {
      t.equal(body.pmbus_raw, '64,0,0,0', 'pmbus_raw')
      t.equal(body.power_status, 'off', 'power_status')
      t.equal(body.power_ok, true, 'power_ok')
      t.equal(body.over_current, false, 'over_current')
      t.equal(body.under_voltage, false, 'under_voltage')
    })
  })

  await t.test('ThreadedTestCase 010: bad power results', async (t) => {
    await concurrent(t, app, THREAD_COUNT, '/power/status/0000000B/02FF', 500)
  })

  // ---------------------------------------------------------------- ThroughputTestCase
  // (tests/test_throughput.py) 10 callers per test. The reference fires daemon
  // threads and never joins them, so its status asserts could not fail the
  // run; here the callers are awaited and the same status codes are asserted.

  await t.test('ThroughputTestCase 001: good scan results', async (t) => {
    await concurrent(t, app, THROUGHPUT_COUNT, '/scan/0000000A', 200)
  })

  await t.test('ThroughputTestCase 002: bad scan results', async (t) => {
    await concurrent(t, app, THROUGHPUT_COUNT, '/scan/0000000B', 500)
  })

  await t.test('ThroughputTestCase 003: good version results', async (t) => {
    await concurrent(t, app, THROUGHPUT_COUNT, '/version/0000000A', 200)
  })

  await t.test('ThroughputTestCase 004: bad version results', async (t) => {
    await concurrent(t, app, THROUGHPUT_COUNT, '/version/0000000B', 500)
  })

  await t.test('ThroughputTestCase 005: good read results', async (t) => {
    await Promise.all([
      concurrent(t, app, THROUGHPUT_COUNT, '/read/thermistor/0000000A/01FF', 200),
      concurrent(t, app, THROUGHPUT_COUNT, '/read/humidity/0000000A/0CFF', 200)
    ])
  })

  await t.test('ThroughputTestCase 006: bad read results', async (t) => {
    await Promise.all([
      concurrent(t, app, THROUGHPUT_COUNT, '/read/thermistor/0000000B/01FF', 500),
      concurrent(t, app, THROUGHPUT_COUNT, '/read/humidity/0000000B/0CFF', 500)
    ])
  })

  await t.test('ThroughputTestCase 007: good power results', async (t) => {
    await concurrent(t, app, THROUGHPUT_COUNT, '/power/status/0000000A/02FF', 200)
  })

  await t.test('ThroughputTestCase 008: bad power results', async (t) => {
    await concurrent(t, app, THROUGHPUT_COUNT, '/power/status/0000000B/02FF', 500)
  })
}
