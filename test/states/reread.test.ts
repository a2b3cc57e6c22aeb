/**
 * Out-of-turn reads (monitoring/poller.ts rereadFor): a log entry naming a
 * sensor has it read again at once, bounded: one such read per sensor at a
 * time and REREADS_PER_INTERVAL per board per poll interval. A fake backend
 * counts the reads; a clock whose timers never fire keeps the schedule's
 * own polls out of the count, so every read seen is an out-of-turn one.
 */
import t from 'tap'
import type { Bus, BusStatus, ScannedBoard } from '../../drivers/bus.js'
import type { BoardEvent } from '../../drivers/events.js'
import type { Alert, LogAlert } from '../../monitoring/alerts.js'
import type { PollerClock } from '../../monitoring/clock.js'
import { resolvePollConfig } from '../../monitoring/poll-config.js'
import { Poller, REREADS_PER_INTERVAL } from '../../monitoring/poller.js'
import type { RedfishBoard, RedfishSensor } from '../../drivers/redfish/redfish-discovery.js'
import type { PushedEvent, RedfishEventStream } from '../../drivers/redfish/redfish-event-stream.js'
import { watchBoardEvents } from '../../drivers/redfish/redfish-pushed-events.js'

const BOARDS = [0x40000001, 0x40000002]
const DEVICES = [{ id: 1, info: 'CPU1 Temp' }, { id: 2, info: 'Inlet Temp' }]

function fixture (): { poller: Poller, reads: Array<{ board: number, device: number }>, values: Map<number, number>, clock: { time: number }, alerts: Alert[] } {
  const reads: Array<{ board: number, device: number }> = []
  const values = new Map<number, number>([[1, 50], [2, 25]])
  const bus = {
    name: 'fake',
    ownsBoard: (id: number) => BOARDS.includes(id),
    status: (): BusStatus => ({ backend: 'ipmi', up: true, health: {}, metrics: [] }),
    scanAll: async (): Promise<ScannedBoard[]> => BOARDS.map((b) => ({
      board_id: b.toString(16),
      devices: DEVICES.map((d) => ({ device_id: d.id.toString(16).padStart(4, '0'), device_type: 'temperature', device_info: d.info }))
    })),
    scanBoard: async () => [],
    read: async (board: number, device: number) => {
      reads.push({ board, device })
      // answers a moment later, so reads overlap the alerts that follow
      await new Promise((resolve) => setImmediate(resolve))
      return { temperature_c: values.get(device) ?? 0 }
    },
    sensorHealth: async () => ({ thresholds: { upper_critical: 90 } })
  } as unknown as Bus
  const clock = { time: 1_700_000_000_000 }
  // timers never fire: no scheduled poll runs
  const never: PollerClock = { now: () => clock.time, setTimeout: () => 0, clearTimeout: () => {} }
  const poller = new Poller({
    buses: { all: () => [bus], forBoard: () => bus },
    config: resolvePollConfig({ interval_s: 60, intervals: { ipmi: { default: 60 } }, jitter: 0 }, true),
    clock: never,
    random: () => 0
  })
  const alerts: Alert[] = []
  poller.on('alert', (a: Alert) => alerts.push(a))
  return { poller, reads, values, clock, alerts }
}

function logAlert (board: number, id: number, entry: Partial<BoardEvent>): LogAlert {
  return { kind: 'log', board_id: board.toString(16).padStart(8, '0'), backend: 'ipmi', entry: { record_id: String(id), time: null, event: 'Upper Critical going high', severity: 'critical', ...entry }, timestamp: new Date().toISOString() }
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
}

t.test('a flood of 1,000 SEL entries for one sensor: at most the budget of re-reads, one at a time; other boards unaffected', async (t) => {
  const f = fixture()
  await f.poller.start()
  t.teardown(() => f.poller.stop())
  t.equal(f.reads.length, 0, 'no scheduled poll ran')

  for (let i = 0; i < 1000; i++) f.poller.alert(logAlert(BOARDS[0], i, { device_id: '0001' }))
  await settle()
  t.equal(f.reads.length, 1, 'entries arriving together: one read in flight for the sensor')

  for (let i = 1000; i < 2000; i++) {
    f.poller.alert(logAlert(BOARDS[0], i, { device_id: '0001' }))
    if (i % 10 === 0) await settle()
  }
  await settle()
  t.equal(f.reads.length, REREADS_PER_INTERVAL, `spread out: ${REREADS_PER_INTERVAL} re-reads in the interval, not 2,000`)
  t.ok(f.reads.every((r) => r.board === BOARDS[0] && r.device === 1), 'all of that sensor')

  f.poller.alert(logAlert(BOARDS[0], 5000, { device_id: '0002' }))
  await settle()
  t.equal(f.reads.length, REREADS_PER_INTERVAL, 'the budget is the board\'s: its other sensor waits for its poll')

  f.poller.alert(logAlert(BOARDS[1], 1, { device_id: '0002' }))
  await settle()
  t.same(f.reads.at(-1), { board: BOARDS[1], device: 2 }, 'another board still gets its re-read')

  f.clock.time += 60_000
  f.poller.alert(logAlert(BOARDS[0], 5001, { device_id: '0002' }))
  await settle()
  t.same(f.reads.at(-1), { board: BOARDS[0], device: 2 }, 'a new interval, a new budget')
})

t.test('the re-read is a poll: a crossing becomes a threshold alert; entries naming no known sensor change nothing', async (t) => {
  const f = fixture()
  await f.poller.start()
  t.teardown(() => f.poller.stop())

  f.poller.alert(logAlert(BOARDS[0], 1, { sensor: 'Memory', device_id: '0042' }))
  f.poller.alert(logAlert(BOARDS[0], 2, { sensor: 'Chassis Intrusion' }))
  f.poller.alert(logAlert(BOARDS[0], 3, {}))
  f.poller.alert(logAlert(0x40000009, 4, { device_id: '0001' }))
  await settle()
  t.equal(f.reads.length, 0, 'an unknown device id, an unknown name, no sensor, an unknown board: no read')

  // Redfish style: no device id, the sensor's name (or its URI's last segment)
  f.values.set(1, 95)
  f.poller.alert({ ...logAlert(BOARDS[0], 5, { sensor: 'CPU1_Temp' }), backend: 'redfish' })
  await settle()
  t.same(f.reads, [{ board: BOARDS[0], device: 1 }], 'the named sensor read again')
  const threshold = f.alerts.find((a) => a.kind === 'threshold')
  t.match(threshold, { kind: 'threshold', board_id: '40000001', device_id: '0001', state: 'critical', value: 95 }, 'its state changed as after a poll')
  t.equal(f.poller.sensor(BOARDS[0], 1)?.history.entries(0).length, 1, 'in its history')
  t.equal(f.poller.sensor(BOARDS[0], 1)?.condition, 'critical')

  f.poller.stop()
  f.poller.alert(logAlert(BOARDS[0], 6, { device_id: '0001' }))
  await settle()
  t.equal(f.reads.length, 1, 'a stopped poller reads nothing')
})

t.test('Redfish: an event whose OriginOfCondition is a discovered sensor names it as the entry\'s device_id', async (t) => {
  let listener: ((events: PushedEvent[]) => void) | undefined
  const stream = { state: 'live', subscribe: (l: (events: PushedEvent[]) => void) => { listener = l; return () => { listener = undefined } } } as unknown as RedfishEventStream
  const sensor = (deviceId: number, key: string): RedfishSensor => ({ deviceId, kind: 'temperature', name: `s${deviceId}`, uri: key.split('#')[0], sources: [], key, fields: {} }) as unknown as RedfishSensor
  const boards: RedfishBoard[] = [
    { slot: 0, system: '/redfish/v1/Systems/1', chassis: ['/redfish/v1/Chassis/1'], systemSources: [], ledSources: [], sensors: [sensor(1, '/redfish/v1/Chassis/1/Sensors/CPU1Temp'), sensor(2, '/redfish/v1/Chassis/1/Thermal#/Temperatures/1')] },
    { slot: 1, system: '/redfish/v1/Systems/2', chassis: ['/redfish/v1/Chassis/2'], systemSources: [], ledSources: [], sensors: [sensor(1, '/redfish/v1/Chassis/2/Sensors/CPU1Temp')] }
  ]
  const got: BoardEvent[] = []
  const handle = watchBoardEvents(stream, () => boards, 0, (events) => got.push(...events))
  t.teardown(() => handle.close())
  const record = (id: string, origin: string | undefined): PushedEvent => ({ entry: { record_id: id, time: null, event: 'Reading critical', severity: 'critical' }, origin, linked: true })
  listener?.([
    record('1', '/redfish/v1/Chassis/1/Sensors/CPU1Temp/'),
    record('2', '/redfish/v1/Chassis/1/Thermal#/Temperatures/1'),
    record('3', '/redfish/v1/Systems/1'),
    record('4', '/redfish/v1/Chassis/1/Sensors/Unknown'),
    record('5', undefined),
    record('6', '/redfish/v1/Chassis/2/Sensors/CPU1Temp')
  ])
  t.same(got.map((e) => [e.record_id, e.device_id]), [['1', '0001'], ['2', '0002'], ['3', undefined], ['4', undefined], ['5', undefined]],
    'a Sensor and a legacy member by @odata.id; the system, an unknown sensor and no origin name none; the other board\'s sensor is not this board\'s')
})
