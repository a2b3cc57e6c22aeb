/**
 * The event watch's fleet-wide budget (monitoring/event-watch.ts,
 * poll.event_looks_per_s): the looks at each board's event log space out
 * when the fleet is larger than `events_s` allows at that rate, so the
 * request rate stays bounded instead of growing with the fleet.
 */
import t from 'tap'
import type { Bus } from '../../drivers/bus.js'
import { EventWatch } from '../../monitoring/event-watch.js'
import { resolvePollConfig } from '../../monitoring/poll-config.js'
import type { BoardState } from '../../monitoring/sensor-state.js'

function boards (n: number, reads: Map<string, number>, withLog = true): BoardState[] {
  return Array.from({ length: n }, (_, i) => {
    const id = (0x40000001 + i).toString(16)
    const bus = (withLog ? { events: async () => { reads.set(id, (reads.get(id) ?? 0) + 1); return [] } } : {}) as unknown as Bus
    return { board_id: id, boardId: 0x40000001 + i, backend: 'ipmi', bus, sensors: [], up: true } as unknown as BoardState
  })
}

t.test('the period: events_s up to the budget, then the fleet over the rate', async (t) => {
  const reads = new Map<string, number>()
  const period = (fleet: BoardState[], looksPerSecond?: number): number =>
    new EventWatch({ boards: () => fleet, onAlert: () => {}, intervalMs: 2000, concurrency: 1, looksPerSecond }).periodMs()
  t.equal(period(boards(1000, reads), 500), 2000, '1,000 boards at 500 looks/s: every 2 s as configured')
  t.equal(period(boards(5000, reads), 500), 10000, '5,000 boards: every 10 s')
  t.equal(period(boards(10000, reads), 500), 20000, '10,000 boards: every 20 s')
  t.equal(period([...boards(100, reads), ...boards(5000, reads, false)], 500), 2000, 'boards without an event log do not count')
  t.equal(period(boards(5000, reads)), 2000, 'no budget: events_s whatever the fleet')
  t.equal(resolvePollConfig({}).eventLooksPerS, 500, 'the default budget')
  t.equal(resolvePollConfig({ event_looks_per_s: 50 }).eventLooksPerS, 50)
})

t.test('running: each board is looked at once per period, not once per events_s', async (t) => {
  const reads = new Map<string, number>()
  const fleet = boards(20, reads)
  // 20 boards at 100 looks/s: every 200 ms, although events_s asks for every 20 ms
  const watch = new EventWatch({ boards: () => fleet, onAlert: () => {}, intervalMs: 20, concurrency: 4, looksPerSecond: 100 })
  watch.start()
  await new Promise((resolve) => setTimeout(resolve, 1100))
  watch.stop()
  const most = Math.max(...reads.values())
  t.ok(most >= 2, `every board looked at more than once (${most})`)
  t.ok(most <= 7, `at most about 1.1 s / 200 ms looks per board, not 55 (${most})`)
  t.equal(reads.size, 20, 'every board')
  const after = [...reads.values()].reduce((a, b) => a + b, 0)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal([...reads.values()].reduce((a, b) => a + b, 0), after, 'stopped: no look after stop()')
})
