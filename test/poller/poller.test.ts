import t from 'tap'
import type { Bus, BusStatus, LedStatus, Reading, ScannedBoard } from '../../drivers/bus.js'
import { OpenDcreError } from '../../drivers/errors.js'
import type { PollerClock } from '../../monitoring/clock.js'
import { resolvePollConfig, type PollConfigFile } from '../../monitoring/poll-config.js'
import { Poller } from '../../monitoring/poller.js'

/** Time that moves only when the test says; timers run in due order. */
class FakeClock implements PollerClock {
  time = 1_700_000_000_000
  private timers: Array<{ at: number, fn: () => void, id: number }> = []
  private ids = 0
  now = (): number => this.time
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.ids
    this.timers.push({ at: this.time + ms, fn, id })
    return id
  }

  clearTimeout = (handle: unknown): void => { this.timers = this.timers.filter((x) => x.id !== handle) }

  /** Advances to now + ms, running every timer due on the way (and what they schedule). */
  async advance (ms: number): Promise<void> {
    const end = this.time + ms
    for (;;) {
      await settle()
      this.timers.sort((a, b) => a.at - b.at)
      const next = this.timers[0]
      if (next === undefined || next.at > end) break
      this.timers.shift()
      this.time = Math.max(this.time, next.at)
      next.fn()
    }
    this.time = end
    await settle()
  }
}

async function settle (): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

interface FakeBoard { id: number, devices: Array<{ id: number, type: string, info?: string }> }

/** A backend whose answers the test controls: values per device, delays, unreachable boards. */
class FakeBus implements Bus {
  readonly name: string
  calls: Array<{ op: string, board: number, device: number }> = []
  inFlight = new Map<number, number>()
  maxInFlightPerBoard = 0
  inFlightTotal = 0
  maxInFlightTotal = 0
  values = new Map<string, number>()
  dead = new Set<number>()
  /** Pending answers (when `hold` is set, every call waits for release()). */
  hold = false
  private held: Array<() => void> = []

  constructor (readonly backend: string, private readonly boards: FakeBoard[]) {
    this.name = backend
  }

  release (): void {
    const held = this.held
    this.held = []
    for (const go of held) go()
  }

  ownsBoard = (id: number): boolean => this.boards.some((b) => b.id === id)
  status = (): BusStatus => ({ backend: this.backend, up: true, health: {}, metrics: [] })
  /** Scan-all lists each board with its power device only (as the IPMI bridge lists a BMC slow to answer); its own scan lists all. */
  scanAll = async (): Promise<ScannedBoard[]> => this.boards.map((b) => ({
    board_id: b.id.toString(16).padStart(8, '0'),
    devices: [{ device_id: '0100', device_type: 'power' }]
  }))

  scanBoard = async (id: number): Promise<ScannedBoard[]> => await this.call('scan', id, 0, () => this.boards.filter((b) => b.id === id).map((b) => ({
    board_id: b.id.toString(16).padStart(8, '0'),
    devices: b.devices.map((d) => ({ device_id: d.id.toString(16).padStart(4, '0'), device_type: d.type, device_info: d.info }))
  })))

  private async call<T>(op: string, board: number, device: number, answer: () => T): Promise<T> {
    this.calls.push({ op, board, device })
    const n = (this.inFlight.get(board) ?? 0) + 1
    this.inFlight.set(board, n)
    this.maxInFlightPerBoard = Math.max(this.maxInFlightPerBoard, n)
    this.maxInFlightTotal = Math.max(this.maxInFlightTotal, ++this.inFlightTotal)
    try {
      if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve))
      if (this.dead.has(board)) throw new OpenDcreError('timeout', 'No response from BMC.')
      return answer()
    } finally {
      this.inFlight.set(board, (this.inFlight.get(board) ?? 1) - 1)
      this.inFlightTotal--
    }
  }

  read = async (board: number, device: number, type: string): Promise<Reading> =>
    await this.call('read', board, device, () => {
      const value = this.values.get(`${board}/${device}`) ?? 20
      return type === 'fan_speed' ? { speed_rpm: value } : { temperature_c: value }
    })

  power = async (board: number, device: number): Promise<any> =>
    await this.call('power', board, device, () => ({ power_status: 'on', power_ok: true }))

  led = async (board: number, device: number): Promise<LedStatus> =>
    await this.call('led', board, device, () => ({ led_state: 'off' }))

  version = async (): Promise<never> => { throw new Error('not used') }
  asset = async (): Promise<never> => { throw new Error('not used') }
  bootTarget = async (): Promise<never> => { throw new Error('not used') }
  location = async (): Promise<never> => { throw new Error('not used') }
  fan = async (): Promise<never> => { throw new Error('not used') }
  close = async (): Promise<void> => {}
}

function bmcBoards (count: number): FakeBoard[] {
  return Array.from({ length: count }, (_, i) => ({
    id: 0x40000001 + i,
    devices: [
      { id: 0x100, type: 'power' },
      { id: 0x200, type: 'system' },
      { id: 0x21, type: 'temperature', info: 'CPU Temp' },
      { id: 0x30, type: 'fan_speed', info: 'FAN 1' }
    ]
  }))
}

function setup (buses: FakeBus[], poll: PollConfigFile): { poller: Poller, clock: FakeClock } {
  const clock = new FakeClock()
  const source = { all: () => buses, forBoard: (id: number) => buses.find((b) => b.ownsBoard(id)) ?? buses[0] }
  const poller = new Poller({ buses: source, config: resolvePollConfig({ jitter: 0, ...poll }), clock, random: () => 0.5 })
  return { poller, clock }
}

t.test('every device of every board (from its own scan) is polled on its interval (per backend and device type), system devices not at all', async (t) => {
  const ipmi = new FakeBus('ipmi', bmcBoards(3))
  const { poller, clock } = setup([ipmi], { intervals: { ipmi: { default: 10, fan_speed: 20 } } })
  await poller.start()
  t.teardown(() => poller.stop())
  // first polls spread over one interval (random fixed at 0.5: at 5 s, fans at 10 s)
  await clock.advance(4_999)
  t.same(ipmi.calls.map((c) => c.op), ['scan', 'scan', 'scan'], 'each board scanned first, nothing read before the first due time')
  await clock.advance(40_001)
  const count = (op: string, device: number): number => ipmi.calls.filter((c) => c.op === op && c.device === device && c.board === 0x40000001).length
  t.equal(count('read', 0x21), 5, 'temperature every 10 s: at 5, 15, 25, 35, 45 s')
  t.equal(count('read', 0x30), 2, 'fans every 20 s: at 10, 30 s')
  t.equal(count('power', 0x100), 5, 'power status every 10 s')
  t.equal(count('led', 0x200), 5, "the IPMI system device's LED (the identify LED) every 10 s")
  t.equal(ipmi.calls.filter((c) => c.op === 'read' && c.device === 0x200).length, 0, 'no sensor read of a system device')
  const sensor = poller.sensor(0x40000002, 0x21)
  t.same(sensor?.reading, { temperature_c: 20 })
  t.equal(sensor?.device_info, 'CPU Temp')
  t.equal(poller.sensor(0x40000001, 0x200)?.operation, 'led')
})

t.test('polls due within the same 100 ms go out together, early rather than late', async (t) => {
  const ipmi = new FakeBus('ipmi', bmcBoards(30))
  const clock = new FakeClock()
  const source = { all: () => [ipmi], forBoard: () => ipmi }
  // board i's first polls are due at 5,000 + 3i ms (phases 0.5 + 0.0003i of 10 s): 5,000 to 5,087 ms
  let i = 0
  const poller = new Poller({ buses: source, config: resolvePollConfig({ jitter: 0, intervals: { ipmi: { default: 10 } } }), clock, random: () => 0.5 + 0.0003 * i++ })
  const start = clock.now()
  await poller.start()
  t.teardown(() => poller.stop())
  await clock.advance(4_999)
  t.equal(ipmi.calls.filter((c) => c.op !== 'scan').length, 0, 'nothing polled before the first of them is due')
  await clock.advance(1)
  const firstRound = ipmi.calls.filter((c) => c.op === 'read' && c.device === 0x21)
  t.equal(firstRound.length, 30, 'every board\'s temperature polled at 5,000 ms, in one go')
  const readAt = new Set(Array.from({ length: 30 }, (_, b) => (poller.sensor(0x40000001 + b, 0x21)?.readAt ?? 0) - start))
  t.same([...readAt], [5000], 'all read at the same moment, none after it was due')
  await clock.advance(9_999)
  t.equal(ipmi.calls.filter((c) => c.op === 'read' && c.device === 0x21).length, 30, 'the next round is not early by more than the 100 ms')
  await clock.advance(1)
  t.equal(ipmi.calls.filter((c) => c.op === 'read' && c.device === 0x21).length, 60, 'and goes out together again 10 s later')
})

t.test('one request in flight per board; the global bound caps all boards together', async (t) => {
  const ipmi = new FakeBus('ipmi', bmcBoards(10))
  ipmi.hold = true
  const { poller, clock } = setup([ipmi], { interval_s: 10, concurrency: 4 })
  await poller.start()
  t.teardown(() => poller.stop())
  for (let i = 0; i < 40; i++) {
    await clock.advance(1000)
    ipmi.release()
  }
  await settle()
  t.equal(ipmi.maxInFlightPerBoard, 1, 'never two requests to one BMC at once')
  t.equal(ipmi.maxInFlightTotal, 4, 'at most 4 requests in flight over the fleet')
  t.ok(ipmi.calls.length >= 40, `polls went on (${ipmi.calls.length})`)
})

t.test('a dead BMC delays only itself: its readings age, it is asked once a round, the others stay fresh', async (t) => {
  const ipmi = new FakeBus('ipmi', bmcBoards(3))
  const { poller, clock } = setup([ipmi], { intervals: { ipmi: { default: 10 } }, concurrency: 1 })
  const boardEvents: Array<[string, boolean | undefined]> = []
  poller.on('board', (b) => boardEvents.push([b.board_id, b.up]))
  await poller.start()
  t.teardown(() => poller.stop())
  await clock.advance(10_000)
  const before = poller.sensor(0x40000002, 0x21)?.readAt
  t.ok(before !== undefined, 'the BMC was read while alive')
  ipmi.dead.add(0x40000002)
  ipmi.calls = []
  await clock.advance(60_000)
  const deadCalls = ipmi.calls.filter((c) => c.board === 0x40000002).length
  t.equal(deadCalls, 6, 'the dead BMC is asked once per round (6 rounds), not once per device')
  const alive = poller.sensor(0x40000001, 0x21)
  t.ok(alive?.readAt !== undefined && clock.now() - alive.readAt <= 10_000, 'a live BMC is still read every interval')
  const dead = poller.sensor(0x40000002, 0x21)
  t.equal(dead?.readAt, before, "the dead BMC's reading is the last it gave")
  const age = poller.metrics().find((f) => f.name === 'opendcre_reading_age_seconds')?.samples
    .find((s) => s.labels.board_id === '40000002' && s.labels.device_id === '0021')?.value
  t.ok(age !== undefined && age >= 60, `its age says so (${age} s)`)
  const up = poller.metrics().find((f) => f.name === 'opendcre_board_up')?.samples
  t.same(up?.map((s) => [s.labels.board_id, s.value]), [['40000001', 1], ['40000002', 0], ['40000003', 1]])
  t.same(boardEvents.filter(([id]) => id === '40000002'), [['40000002', true], ['40000002', false]], 'a board event on each change')
  ipmi.dead.delete(0x40000002)
  await clock.advance(10_000)
  t.equal(poller.sensor(0x40000002, 0x21)?.board.up, true, 'back up once it answers')
})

t.test('API reads: max_age answers from a fresh value, else reads; identical reads in flight share one transaction', async (t) => {
  const bus = new FakeBus('device_bus', [{ id: 1, devices: [{ id: 4, type: 'temperature' }] }])
  const { poller, clock } = setup([bus], { enabled: false })
  bus.values.set('1/4', 30)
  const first = await poller.read(1, 4, 'temperature')
  t.same(first, { reading: { temperature_c: 30 }, timestamp: clock.now() })
  t.equal(bus.calls.length, 1)
  bus.values.set('1/4', 31)
  await clock.advance(3000)
  t.same((await poller.read(1, 4, 'temperature', 5)).reading, { temperature_c: 30 }, 'max_age=5: the 3 s old value')
  t.equal(bus.calls.length, 1, 'no device transaction')
  t.same((await poller.read(1, 4, 'temperature', 2)).reading, { temperature_c: 31 }, 'max_age=2: too old, read now')
  t.same((await poller.read(1, 4, 'temperature')).reading, { temperature_c: 31 }, 'no max_age: always the device')
  t.equal(bus.calls.length, 3)

  bus.hold = true
  const together = [poller.read(1, 4, 'temperature'), poller.read(1, 4, 'temperature'), poller.read(1, 4, 'temperature', 0)]
  await settle()
  bus.release()
  const answers = await Promise.all(together)
  t.equal(bus.calls.length, 4, 'three concurrent identical reads: one transaction')
  t.same(answers.map((a) => a.reading), [{ temperature_c: 31 }, { temperature_c: 31 }, { temperature_c: 31 }])
  t.equal(poller.history(poller.sensor(1, 4)!).length, 4, 'every reading is kept in the history')
})

t.test('metrics: per-sensor series with the API ids as labels', async (t) => {
  const ipmi = new FakeBus('ipmi', bmcBoards(1))
  ipmi.values.set(`${0x40000001}/${0x21}`, 41.5)
  ipmi.values.set(`${0x40000001}/${0x30}`, 5400)
  const { poller, clock } = setup([ipmi], { intervals: { ipmi: { default: 10 } } })
  await poller.start()
  t.teardown(() => poller.stop())
  await clock.advance(12_000)
  const families = new Map(poller.metrics().map((f) => [f.name, f.samples]))
  t.same(families.get('opendcre_temperature_celsius'), [{
    labels: { board_id: '40000001', device_id: '0021', device_type: 'temperature', device_info: 'CPU Temp', backend: 'ipmi' }, value: 41.5
  }])
  t.equal(families.get('opendcre_fan_speed_rpm')?.[0].value, 5400)
  t.equal(families.get('opendcre_power_on')?.[0].value, 1)
  t.equal(families.get('opendcre_led_on')?.[0].value, 0)
  t.equal(families.get('opendcre_reading_age_seconds')?.length, 4, 'one age per polled device')
})

t.test('history ring: bounded, oldest first, numbers and objects, unchanged objects kept once', async (t) => {
  const { HistoryRing } = await import('../../monitoring/history-ring.js')
  const ring = new HistoryRing(3)
  for (let i = 1; i <= 5; i++) ring.push(i * 1000, { temperature_c: 20 + i })
  t.same(ring.entries(), [
    { timestamp: 3000, reading: { temperature_c: 23 } },
    { timestamp: 4000, reading: { temperature_c: 24 } },
    { timestamp: 5000, reading: { temperature_c: 25 } }
  ], 'the 3 newest, oldest first')
  t.same(ring.entries(4000).map((e) => e.timestamp), [4000, 5000], 'from a time on')
  ring.push(6000, { temperature_c: 26, humidity: 40 })
  t.same(ring.entries().map((e) => e.reading), [{ temperature_c: 24 }, { temperature_c: 25 }, { temperature_c: 26, humidity: 40 }], 'a reading of another shape keeps the numbers before it')
  const power = new HistoryRing(4)
  power.push(1, { power_status: 'on', power_ok: true })
  power.push(2, { power_status: 'on', power_ok: true })
  power.push(3, { power_status: 'off', power_ok: true })
  const [a, b, c] = power.entries().map((e) => e.reading)
  t.equal(a, b, 'an unchanged status is stored once')
  t.same(c, { power_status: 'off', power_ok: true })
})
