import t from 'tap'
import type { PowerAction, PowerStatus } from '../../drivers/bus.js'
import { OpenDcreError } from '../../drivers/errors.js'
import { planStarts, PowerTask, type PowerPolicy, type TaskTarget } from '../../monitoring/power-task.js'
import { PowerTasks, taskView } from '../../monitoring/power-tasks.js'

/**
 * The task engine against fake boards that misbehave on purpose: slow to
 * show the new state, never showing it, failing the switch, failing once.
 * The fakes count how many boards are switching (from the switch until a
 * read-back shows the state) to check the policy from outside the engine.
 */
interface FakeBoard {
  state: 'on' | 'off'
  /** Status reads after a switch before the new state shows (Infinity: never). */
  lag?: number
  /** Switch commands that throw before one works (Infinity: always). */
  failSwitches?: number
  /** Switch commands that take effect, then throw (the answer lost). */
  loseAnswers?: number
  /** Status reads that throw. */
  failReads?: boolean
  /** Status reads that throw once a switch has been sent. */
  failReadsAfterSwitch?: boolean
  watts?: number
}

function fakeFleet (boards: FakeBoard[]): { targets: TaskTarget[], switches: number[], calls: string[][], starts: number[], maxSwitching: () => number, maxWatts: () => number } {
  const switching = new Set<number>()
  const switches = boards.map(() => 0)
  /** Every call to each board in order: the action, or `status` for a read. */
  const calls: string[][] = boards.map(() => [])
  const starts: number[] = []
  let max = 0
  let maxWatts = 0
  const pending = boards.map(() => ({ want: undefined as 'on' | 'off' | undefined, reads: 0 }))
  const status = (i: number): PowerStatus => ({ power_status: boards[i].state } as unknown as PowerStatus)
  const targets = boards.map((board, i): TaskTarget => ({
    boardId: 0x40000001 + i,
    deviceId: 0x100,
    ...(board.watts === undefined ? {} : { watts: board.watts }),
    power: async (_boardId: number, _deviceId: number, action: PowerAction) => {
      // when the switch was asked for (before any await: a loaded machine delays what follows)
      if (action !== 'status' && (board.failSwitches ?? 0) === 0) starts.push(Date.now())
      await new Promise((resolve) => setImmediate(resolve))
      calls[i].push(action)
      const p = pending[i]
      if (action === 'status') {
        if (board.failReadsAfterSwitch === true && switches[i] > 0) throw new OpenDcreError('timeout', 'no answer to the read')
        if (board.failReads === true) throw new OpenDcreError('timeout', 'no answer')
        if (p.want !== undefined && ++p.reads > (board.lag ?? 0)) {
          board.state = p.want
          p.want = undefined
          switching.delete(i)
        }
        return status(i)
      }
      switches[i]++
      if ((board.failSwitches ?? 0) > 0) {
        board.failSwitches = (board.failSwitches ?? 0) - 1
        throw new OpenDcreError('timeout', 'BMC did not answer')
      }
      switching.add(i)
      max = Math.max(max, switching.size)
      maxWatts = Math.max(maxWatts, [...switching].reduce((sum, j) => sum + (boards[j].watts ?? 0), 0))
      p.want = action === 'off' ? 'off' : 'on'
      p.reads = 0
      // a cycle is off at once, then back on after the lag
      if (action === 'cycle') board.state = 'off'
      if ((board.lag ?? 0) === 0) { board.state = p.want; p.want = undefined; switching.delete(i) }
      if ((board.loseAnswers ?? 0) > 0) {
        board.loseAnswers = (board.loseAnswers ?? 0) - 1
        throw new OpenDcreError('timeout', 'the answer was lost')
      }
      return status(i)
    }
  }))
  return { targets, switches, calls, starts, maxSwitching: () => max, maxWatts: () => maxWatts }
}

const POLICY: PowerPolicy = { max_concurrent: 4, interval_ms: 0, confirm_reads: 5, confirm_interval_ms: 1, retries: 1, read_concurrency: 8, estimated_switch_ms: 1000 }

t.test('switches only the boards not yet on, at most max_concurrent at once, each confirmed by a read-back', async (t) => {
  const boards: FakeBoard[] = Array.from({ length: 40 }, (_, i) => ({ state: i % 2 === 0 ? 'on' : 'off', lag: 2 }))
  const fleet = fakeFleet(boards)
  const task = new PowerTask({ id: 't1', action: 'on', policy: POLICY, targets: fleet.targets })
  await task.finished
  t.equal(task.state, 'done')
  t.equal(task.count('confirmed'), 40)
  t.equal(task.count('failed'), 0)
  t.equal(task.skipped, 20, 'the boards already on are left alone')
  t.same(fleet.switches, boards.map((_, i) => (i % 2 === 0 ? 0 : 1)), 'one switch per board that was off, none to those on')
  t.ok(fleet.maxSwitching() <= 4, `never more than 4 switching (saw ${fleet.maxSwitching()})`)
  t.equal(fleet.maxSwitching(), 4, 'and 4 were used')
  t.equal(task.boards[1].message, 'confirmed after 3 read-backs', 'not counted on until a read-back showed on')
  t.equal(task.boards[0].message, 'already on')
  t.ok(boards.every((b) => b.state === 'on'))
})

t.test('a board that never shows the state is re-sent within the retries, then failed with the reason', async (t) => {
  const fleet = fakeFleet([{ state: 'off', lag: Infinity }, { state: 'off' }])
  const task = new PowerTask({ id: 't2', action: 'on', policy: { ...POLICY, confirm_reads: 3, retries: 2 }, targets: fleet.targets })
  await task.finished
  t.equal(task.count('failed'), 1)
  t.equal(task.count('confirmed'), 1)
  t.same(task.boards[0], { board_id: '40000001', state: 'failed', message: 'still off after 3 read-backs (3 switches sent)', power_status: 'off', attempts: 3 })
  t.equal(fleet.switches[0], 3, 'first switch and two retries: no more')
})

t.test('a switch that fails is re-sent only after read-backs show it did not take; one that always fails is reported, never dropped', async (t) => {
  const fleet = fakeFleet([{ state: 'off', failSwitches: 1 }, { state: 'off', failSwitches: Infinity }, { state: 'on', failReads: true }])
  const audit: any[] = []
  const task = new PowerTask({ id: 't3', action: 'on', policy: POLICY, targets: fleet.targets, audit: (e) => audit.push(e) })
  await task.finished
  t.equal(task.boards[0].state, 'confirmed', 'the retry worked')
  t.equal(task.boards[0].attempts, 2)
  t.same(fleet.calls[0], ['status', 'on', 'status', 'status', 'status', 'status', 'status', 'on'], 'survey, the failed switch, five reads showing off, then the second switch')
  t.same(task.boards[1], { board_id: '40000002', state: 'failed', message: 'switch failed: BMC did not answer; still off after 5 read-backs (2 switches sent)', power_status: 'off', attempts: 2 })
  t.equal(task.boards[2].state, 'failed')
  t.equal(task.boards[2].message, 'power status read failed: no answer')
  t.equal(task.count('confirmed') + task.count('failed'), 3, 'every board accounted for')
  t.same(audit.map((e) => `${e.board} ${e.result}`).sort(), ['40000001 failed', '40000001 ok', '40000002 failed', '40000002 failed'], 'each switch sent is audited')
  t.equal(audit[0].task_id, 't3')
})

t.test('a switch whose answer is lost is read, not re-sent: a board that reads as wanted is confirmed with one command', async (t) => {
  const fleet = fakeFleet([{ state: 'off', loseAnswers: 1 }, { state: 'on', loseAnswers: 1, lag: 2 }])
  const audit: any[] = []
  const on = new PowerTask({ id: 'lost-on', action: 'on', policy: { ...POLICY, retries: 3 }, targets: [fleet.targets[0]], audit: (e) => audit.push(e) })
  await on.finished
  t.same(fleet.calls[0], ['status', 'on', 'status'], 'the error is followed by a read, which shows on: no second command')
  t.same(on.boards[0], { board_id: '40000001', state: 'confirmed', message: 'confirmed after 1 read-back (switch failed: the answer was lost; not re-sent)', power_status: 'on', attempts: 1 })
  t.same(audit.map((e) => e.result), ['failed'], 'the one switch is audited as failed')
  const off = new PowerTask({ id: 'lost-off', action: 'off', policy: { ...POLICY, retries: 3 }, targets: [fleet.targets[1]] })
  await off.finished
  t.same(fleet.calls[1], ['status', 'off', 'status', 'status', 'status'], 'a board still going off is read until it shows off, never sent off again')
  t.equal(off.boards[0].state, 'confirmed')
  t.equal(fleet.switches[1], 1)
})

t.test('when the state cannot be read after a failed switch, the switch is not re-sent', async (t) => {
  const fleet = fakeFleet([{ state: 'off', failSwitches: 1, failReadsAfterSwitch: true }, { state: 'off', lag: Infinity, failReadsAfterSwitch: true }])
  const task = new PowerTask({ id: 'unreadable', action: 'on', policy: { ...POLICY, confirm_reads: 3, retries: 3 }, targets: fleet.targets })
  await task.finished
  t.same(fleet.switches, [1, 1], 'one command each, whatever the retries allow')
  t.same(fleet.calls[0], ['status', 'on', 'status', 'status', 'status'], 'the read retried within confirm_reads')
  t.same(task.boards.map((b) => [b.state, b.message]), [
    ['failed', 'switch failed: BMC did not answer; state unknown after 3 read-backs: read-back failed: no answer to the read (1 switch sent, not re-sent)'],
    ['failed', 'switch answered; state unknown after 3 read-backs: read-back failed: no answer to the read (1 switch sent, not re-sent)']
  ])
})

t.test('a cycle is never sent twice', async (t) => {
  const policy = { ...POLICY, confirm_reads: 4, retries: 5 }
  // its answer lost, but read-backs see it off and then back on: it happened
  const seen = fakeFleet([{ state: 'on', loseAnswers: 1, lag: 2 }])
  const a = new PowerTask({ id: 'c1', action: 'cycle', policy, targets: seen.targets })
  await a.finished
  t.same(seen.calls[0], ['status', 'cycle', 'status', 'status', 'status'], 'read until off and then on were seen')
  t.same([a.boards[0].state, a.boards[0].message], ['confirmed', 'cycle confirmed by read-backs: off, then on after 3 (switch failed: the answer was lost; not re-sent)'])
  // its answer lost and the board on at every read: whether it cycled is unknown
  const onOnly = fakeFleet([{ state: 'on', loseAnswers: 1 }])
  const b = new PowerTask({ id: 'c2', action: 'cycle', policy, targets: onOnly.targets })
  await b.finished
  t.equal(onOnly.switches[0], 1)
  t.same([b.boards[0].state, b.boards[0].message], ['failed', 'cycle outcome unknown: switch failed: the answer was lost; it reads on after 4 read-backs, never off, which does not show that it cycled (a cycle is never re-sent)'])
  // the command never reached the board: still not re-sent
  const refused = fakeFleet([{ state: 'on', failSwitches: Infinity }])
  const c = new PowerTask({ id: 'c3', action: 'cycle', policy, targets: refused.targets })
  await c.finished
  t.equal(refused.switches[0], 1, 'a failed cycle is not re-sent, though five retries were allowed')
  t.match(c.boards[0].message, /^cycle outcome unknown: switch failed: BMC did not answer; it reads on after 4 read-backs/)
  // acknowledged but never back on: failed, not re-sent
  const stuck = fakeFleet([{ state: 'on', lag: Infinity }])
  const d = new PowerTask({ id: 'c4', action: 'cycle', policy, targets: stuck.targets })
  await d.finished
  t.equal(stuck.switches[0], 1)
  t.same([d.boards[0].state, d.boards[0].message], ['failed', 'cycle acknowledged; still off after 4 read-backs (a cycle is never re-sent)'])
})

t.test('interval_ms spaces the starts', async (t) => {
  const fleet = fakeFleet(Array.from({ length: 5 }, () => ({ state: 'off' as const })))
  const task = new PowerTask({ id: 't4', action: 'on', policy: { ...POLICY, max_concurrent: 10, interval_ms: 40 }, targets: fleet.targets })
  await task.finished
  t.equal(task.count('confirmed'), 5)
  for (let i = 1; i < fleet.starts.length; i++) t.ok(fleet.starts[i] - fleet.starts[i - 1] >= 38, `start ${i} ${fleet.starts[i] - fleet.starts[i - 1]} ms after the one before`)
})

t.test('max_inrush_watts bounds the declared power of the boards switching at once', async (t) => {
  const fleet = fakeFleet(Array.from({ length: 12 }, () => ({ state: 'off' as const, lag: 2, watts: 400 })))
  const task = new PowerTask({ id: 't5', action: 'on', policy: { ...POLICY, max_concurrent: 10, max_inrush_watts: 1000 }, targets: fleet.targets })
  await task.finished
  t.equal(task.count('confirmed'), 12)
  t.equal(fleet.maxSwitching(), 2, 'two boards of 400 W fit under 1000 W, three do not')
  t.equal(fleet.maxWatts(), 800)
})

t.test('off and cycle confirm their own end state', async (t) => {
  const off = fakeFleet([{ state: 'on', lag: 1 }, { state: 'off' }])
  const task = new PowerTask({ id: 't6', action: 'off', policy: POLICY, targets: off.targets })
  await task.finished
  t.same(task.boards.map((b) => [b.state, b.power_status]), [['confirmed', 'off'], ['confirmed', 'off']])
  t.same(off.switches, [1, 0])
  const cycle = fakeFleet([{ state: 'on' }])
  const c = new PowerTask({ id: 't7', action: 'cycle', policy: POLICY, targets: cycle.targets })
  await c.finished
  t.equal(c.boards[0].state, 'confirmed', 'a cycle switches a board that is on, confirmed back on')
  t.equal(cycle.switches[0], 1)
})

t.test('cancel stops new switches; those under way are still confirmed', async (t) => {
  const fleet = fakeFleet(Array.from({ length: 10 }, () => ({ state: 'off' as const, lag: 3 })))
  const task = new PowerTask({ id: 't8', action: 'on', policy: { ...POLICY, max_concurrent: 2, confirm_interval_ms: 20 }, targets: fleet.targets })
  await new Promise((resolve) => setTimeout(resolve, 30))
  task.cancel()
  await task.finished
  t.equal(task.state, 'cancelled')
  t.equal(task.count('confirmed'), 2, 'the two under way were confirmed')
  t.equal(task.count('cancelled'), 8)
  t.equal(fleet.switches.reduce((a, b) => a + b, 0), 2, 'no switch after the cancel')
  t.equal(task.boards[9].message, 'cancelled before its switch started')
})

t.test('status reads every board and switches none', async (t) => {
  const fleet = fakeFleet([{ state: 'on' }, { state: 'off' }])
  const task = new PowerTask({ id: 't9', action: 'status', policy: POLICY, targets: fleet.targets })
  await task.finished
  t.same(task.boards.map((b) => b.message), ['on', 'off'])
  t.same(fleet.switches, [0, 0])
})

t.test('a dry run plans the starts under the same three bounds', async (t) => {
  const policy = { ...POLICY, max_concurrent: 2, interval_ms: 100, estimated_switch_ms: 1000 }
  const boards = Array.from({ length: 5 }, (_, i) => ({ board_id: String(i) }))
  t.same(planStarts(boards, policy).map((p) => p.start_ms), [0, 100, 1000, 1100, 2000])
  const heavy = Array.from({ length: 3 }, (_, i) => ({ board_id: String(i), watts: 600 }))
  t.same(planStarts(heavy, { ...policy, max_concurrent: 10, interval_ms: 0, max_inrush_watts: 1000 }).map((p) => p.start_ms), [0, 1000, 2000], 'one 600 W board at a time under 1000 W')
})

t.test('the store: bounded, idempotent, expiring', async (t) => {
  let now = 1_000_000
  const clock = { now: () => now, sleep: async (ms: number) => await new Promise<void>((resolve) => setTimeout(resolve, Math.min(ms, 5))) }
  const tasks = new PowerTasks({ maxTasks: 2, maxKeys: 2, ttlMs: 60_000, clock })
  const slow = fakeFleet([{ state: 'off', lag: Infinity }])
  const running = tasks.start({ action: 'on', policy: { ...POLICY, confirm_reads: 100, retries: 0 }, targets: slow.targets }, { key: 'k1', fingerprint: 'a' })
  t.equal(tasks.replay('k1', 'a'), running, 'the same key and request: the same task')
  t.throws(() => tasks.replay('k1', 'b'), { message: /different request/ }, 'the same key for another request: refused')
  t.equal(tasks.replay('k2', 'a'), undefined)
  const quick = tasks.start({ action: 'status', policy: POLICY, targets: fakeFleet([{ state: 'on' }]).targets })
  await quick.finished
  const third = tasks.start({ action: 'status', policy: POLICY, targets: fakeFleet([{ state: 'on' }]).targets })
  t.equal(tasks.get(quick.id), undefined, 'at the cap the oldest finished task goes')
  t.ok(tasks.get(running.id) !== undefined, 'never a running one')
  t.throws(() => tasks.start({ action: 'status', policy: POLICY, targets: [] }), { message: /tasks are running/ }, 'every kept task running: refused')
  await third.finished
  now += 61_000
  t.equal(tasks.get(third.id), undefined, 'a finished task expires')
  t.equal(tasks.replay('k1', 'a'), undefined, 'so do keys')
  t.equal(taskView(running, false).state, 'running')
  await tasks.close()
  t.equal(running.state, 'cancelled', 'closing cancels what runs')
})

t.test('a target that reads its state alone: the survey and read-backs use it, power() only switches', async (t) => {
  const fleet = fakeFleet([{ state: 'off', lag: 2 }, { state: 'on' }])
  const reads: string[] = []
  const direct: string[] = []
  const targets = fleet.targets.map((target): TaskTarget => ({
    ...target,
    power: async (boardId, deviceId, action) => {
      direct.push(`${(boardId >>> 0).toString(16)} ${action}`)
      return await target.power(boardId, deviceId, action)
    },
    readState: async (boardId, deviceId) => {
      reads.push((boardId >>> 0).toString(16))
      return (await target.power(boardId, deviceId, 'status')).power_status
    }
  }))
  const task = new PowerTask({ id: 'light', action: 'on', policy: POLICY, targets })
  await task.finished
  t.equal(task.count('confirmed'), 2)
  t.same(direct, ['40000001 on'], 'power() is called for the switch alone')
  t.same(reads, ['40000001', '40000002', '40000001', '40000001', '40000001'], 'two survey reads, three read-backs of the board switched')
})
