/**
 * The event watch's two paths for one board (monitoring/event-watch.ts), with
 * a fake backend: a log read on demand and events pushed by a stream whose
 * state the test sets. What is reported one way is never reported again the
 * other way; the log is not read while the stream is live.
 */
import t from 'tap'
import type { Bus, PushedEvents } from '../../drivers/bus.js'
import type { BoardEvent } from '../../drivers/events.js'
import type { LogAlert } from '../../monitoring/alerts.js'
import { EventWatch } from '../../monitoring/event-watch.js'
import type { BoardState } from '../../monitoring/sensor-state.js'

function entry (id: number): BoardEvent {
  return { record_id: String(id), time: null, event: `entry ${id}`, severity: 'warning' }
}

function fixture (): { watch: EventWatch, board: BoardState, log: BoardEvent[], reads: () => number, push: (events: BoardEvent[], linked?: boolean) => void, stream: { state: PushedEvents['state'] }, alerts: string[] } {
  const log: BoardEvent[] = [entry(1), entry(2)]
  let reads = 0
  let listener: ((events: BoardEvent[], linked: boolean) => void) | undefined
  const stream = { state: 'connecting' as PushedEvents['state'] }
  const bus = {
    events: async () => { reads++; return [...log] },
    watchEvents: (_id: number, onEvents: (events: BoardEvent[], linked: boolean) => void): PushedEvents => {
      listener = onEvents
      return { get state () { return stream.state }, close: () => { listener = undefined } }
    }
  } as unknown as Bus
  const board = { board_id: '70000001', boardId: 0x70000001, backend: 'redfish', bus, sensors: [], up: true } as unknown as BoardState
  const alerts: string[] = []
  const watch = new EventWatch({ boards: () => [board], onAlert: (a: LogAlert) => alerts.push(a.entry.record_id), intervalMs: 1000, concurrency: 1 })
  return { watch, board, log, reads: () => reads, push: (events, linked = true) => listener?.(events, linked), stream, alerts }
}

const settle = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))

t.test('live stream: one look for the baseline, then pushed events only, each once', async (t) => {
  const f = fixture()
  f.watch.tick()
  await settle()
  t.equal(f.reads(), 1, 'the baseline look')
  t.same(f.alerts, [], 'what was there is not news')
  f.stream.state = 'live'
  for (let i = 0; i < 3; i++) f.watch.tick()
  await settle()
  t.equal(f.reads(), 1, 'no log read while the stream is live')
  f.log.push(entry(3))
  f.push([entry(3)])
  f.push([entry(3)])
  t.same(f.alerts, ['3'], 'pushed once, a repeat (a Last-Event-ID replay) dropped')
  f.watch.stop()
})

t.test('the stream goes off: the log is read; what was pushed is not reported again, what came meanwhile is', async (t) => {
  const f = fixture()
  f.stream.state = 'live'
  f.watch.tick()
  await settle()
  f.log.push(entry(3))
  f.push([entry(3)])
  f.stream.state = 'off'
  f.log.push(entry(4))
  f.watch.tick()
  await settle()
  t.equal(f.reads(), 2)
  t.same(f.alerts, ['3', '4'], 'entry 3 once (pushed), entry 4 from the log')
  f.push([entry(5)], false)
  t.same(f.alerts, ['3', '4'], 'events whose ids are not the log\'s are not taken while the stream is off')
  // back live: one more look to catch up, then none
  f.log.push(entry(5))
  f.stream.state = 'live'
  f.watch.tick()
  await settle()
  f.watch.tick()
  await settle()
  t.equal(f.reads(), 3, 'one catch-up look when the stream turns live again')
  t.same(f.alerts, ['3', '4', '5'])
  f.watch.stop()
})

t.test('an event pushed while a look is under way is not reported again by that look', async (t) => {
  const f = fixture()
  f.stream.state = 'off'
  f.watch.tick()
  await settle()
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const bus = f.board.bus as unknown as { events: () => Promise<BoardEvent[]> }
  const original = bus.events
  bus.events = async () => { const answer = await original(); await gate; return answer }
  f.log.push(entry(3))
  const look = f.watch.look(f.board)
  await settle()
  f.push([entry(3)])
  release()
  await look
  t.same(f.alerts, ['3'], 'once')
  await f.watch.look(f.board)
  t.same(f.alerts, ['3'], 'and not on the next look')
  f.watch.stop()
})

t.test('a log without a stream: unchanged looks report nothing, an added entry once, a cleared log forgets what it had', async (t) => {
  // the same entry objects at every read, as the IPMI bridge hands them out while its SEL is unchanged
  const log: BoardEvent[] = [entry(1), entry(2)]
  const bus = { events: async () => [...log] } as unknown as Bus
  const board = { board_id: '40000001', boardId: 0x40000001, backend: 'ipmi', bus, sensors: [], up: true } as unknown as BoardState
  const alerts: string[] = []
  const watch = new EventWatch({ boards: () => [board], onAlert: (a: LogAlert) => alerts.push(a.entry.record_id), intervalMs: 1000, concurrency: 1 })
  t.same(await watch.look(board), [], 'the first look notes what is there')
  for (let i = 0; i < 3; i++) t.same(await watch.look(board), [], `unchanged look ${i + 1}: nothing new`)
  log.push(entry(3))
  t.same((await watch.look(board)).map((e) => e.record_id), ['3'], 'an added entry is reported')
  t.same(await watch.look(board), [], 'and only once')
  log.splice(0)
  t.same(await watch.look(board), [], 'a cleared log')
  log.push(entry(1))
  t.same((await watch.look(board)).map((e) => e.record_id), ['1'], 'an entry after the clear is news, whatever its id was before')
  t.same(await watch.look(board), [])
  t.same(alerts, ['3', '1'])
})
