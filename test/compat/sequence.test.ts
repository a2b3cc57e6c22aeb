// The client's packet sequence counter, checked through observable effects only.
// emulator-data.json's board 00000010 answers a thermistor read with raw packets
// whose sequence byte is hard-coded to 2 (a corrupt first answer, then a valid
// answer to the '?' retry), so `/read/thermistor/10/01ff` succeeds only when the
// read goes out as seq 1 and its retry as seq 2 (LineNoiseRetries 001), i.e.
// only when exactly zero sequence numbers were used before it.
import t from 'tap'
import { build, get, referenceFile } from '../helper.js'

const PROBE = '/read/thermistor/10/01ff'

t.test('a fresh service sends its first command as seq 1 and the retry as seq 2', async (t) => {
  const app = await build(t, { emulator: referenceFile('emulator-data.json') })
  const res = await get(app, PROBE)
  t.equal(res.statusCode, 200, `GET ${PROBE} -> 200`)
  t.equal(res.json().temperature_c, 28.78)
})

t.test('requests refused before any packet is built use no sequence number', async (t) => {
  const app = await build(t, { emulator: referenceFile('emulator-data.json') })
  const refused = [
    '/read/thermistor/hot_dog/01ff', // bad board id
    '/read/thermistor/20000000/01ff', // board out of range
    '/read/thermistor/10/-01ff', // bad device id
    '/power/10/02ff/invalid', // bad power action
    '/led/00000010/01ff/blinky', // bad LED state
    '/fan/00000010/01ff/faster', // bad fan speed
    '/fan/00000010/01ff/10001' // fan speed out of range
  ]
  for (const path of refused) {
    const res = await get(app, path)
    t.equal(res.statusCode, 500, `GET ${path} -> 500`)
  }
  // the location routes never contact the bus
  const location = await get(app, '/location/00000010/72DF')
  t.equal(location.statusCode, 200, 'GET /location/00000010/72DF -> 200')

  const res = await get(app, PROBE)
  t.equal(res.statusCode, 200, `GET ${PROBE} -> 200: still seq 1 and 2`)
  t.equal(res.json().temperature_c, 28.78)
})

t.test('a command sent earlier shifts the sequence and the hard-coded answers no longer match', async (t) => {
  const app = await build(t, { emulator: referenceFile('emulator-data.json') })
  const first = await get(app, '/read/temperature/00000001/01FF')
  t.equal(first.statusCode, 200, 'GET /read/temperature/00000001/01FF -> 200 (uses seq 1)')
  // the read now goes out as seq 2: the corrupt seq-2 answer is retried as seq 3,
  // whose answer (hard-coded seq 2) is dropped, so the retry times out -> 500
  const res = await get(app, PROBE)
  t.equal(res.statusCode, 500, `GET ${PROBE} -> 500 once a sequence number was used before it`)
  t.type(res.json().message, 'string')
})
