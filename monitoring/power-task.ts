import type { PowerAction, PowerStatus } from '../drivers/bus.js'
import { boardIdHex } from '../drivers/bus.js'

/**
 * One bulk power task (POST /power, docs/api.md "Bulk power"): survey every
 * board's power state, then switch those not yet in the requested state under
 * a stagger policy (at most max_concurrent switching at once, at least
 * interval_ms between starts, the switching boards' declared power-on watts
 * within max_inrush_watts), each confirmed by reading the state back.
 * Nothing here knows HTTP; the store (power-tasks.ts) keeps tasks.
 */

export type BoardTaskState = 'pending' | 'switching' | 'confirmed' | 'failed' | 'cancelled'
export type TaskState = 'running' | 'done' | 'cancelled'

/** The stagger and confirmation policy of one task (the request's fields, defaults applied). */
export interface PowerPolicy {
  max_concurrent: number
  interval_ms: number
  /** Bound on the sum of power_on_watts of the boards switching at once (boards without a figure count 0). */
  max_inrush_watts?: number
  /** Read-backs after a switch before it counts as not taken (bounded). */
  confirm_reads: number
  confirm_interval_ms: number
  /** Switches re-sent to a board read back as definitely not switched (never a cycle; never when unreadable). */
  retries: number
  /** Status reads at once while surveying (and for action status). */
  read_concurrency: number
  /** How long a switch is assumed to hold its slot, for a dry run's timing only. */
  estimated_switch_ms: number
}

/** A board the task acts on, and how to reach its power device. */
export interface TaskTarget {
  boardId: number
  deviceId: number
  watts?: number
  power: (boardId: number, deviceId: number, action: PowerAction) => Promise<PowerStatus>
  /** The power state alone, where the backend reads it cheaper than power(…, 'status'): the survey and read-backs use it. */
  readState?: (boardId: number, deviceId: number) => Promise<'on' | 'off'>
}

/** A board's power state: readState where the target has it, else power(…, 'status'). */
async function stateOf (target: TaskTarget): Promise<'on' | 'off'> {
  if (target.readState !== undefined) return await target.readState(target.boardId, target.deviceId)
  return (await target.power(target.boardId, target.deviceId, 'status')).power_status
}

export interface TaskBoard {
  board_id: string
  state: BoardTaskState
  message?: string
  /** The power state last read back. */
  power_status?: 'on' | 'off'
  /** Switches sent to this board. */
  attempts: number
}

/** Injected so tests never sleep: ms clock and a sleep that a cancel does not cut short. */
export interface TaskClock {
  now: () => number
  sleep: (ms: number) => Promise<void>
}

export const REAL_CLOCK: TaskClock = {
  now: () => Date.now(),
  sleep: async (ms) => await new Promise((resolve) => setTimeout(resolve, ms))
}

/** One audit line per switch sent, with the task id. */
export type SwitchAudit = (entry: { task_id: string, action: PowerAction, board: string, device: string, result: 'ok' | 'failed', message?: string }) => void

/** The power state an action leaves a board in (cycle: back on). */
export function wantedState (action: PowerAction): 'on' | 'off' | undefined {
  if (action === 'status') return undefined
  return action === 'off' ? 'off' : 'on'
}

/** Whether a board already in `state` is left alone (cycle switches every board that is on). */
function alreadyDone (action: PowerAction, state: 'on' | 'off'): boolean {
  return action !== 'cycle' && state === wantedState(action)
}

/** A planned start: when (ms after the switching begins) and the board. */
export interface PlannedStart { board_id: string, start_ms: number, power_on_watts?: number }

/**
 * When each board would start under the policy if every switch held its slot
 * for estimated_switch_ms: the same three bounds the task applies (the
 * concurrency, the interval, the inrush budget), simulated.
 */
export function planStarts (boards: Array<{ board_id: string, watts?: number }>, policy: PowerPolicy): PlannedStart[] {
  const active: Array<{ end: number, watts: number }> = []
  const plan: PlannedStart[] = []
  let t = 0
  let lastStart = Number.NEGATIVE_INFINITY
  for (const board of boards) {
    const watts = board.watts ?? 0
    t = Math.max(t, lastStart + policy.interval_ms)
    for (;;) {
      for (let i = active.length - 1; i >= 0; i--) if (active[i].end <= t) active.splice(i, 1)
      const drawing = active.reduce((sum, a) => sum + a.watts, 0)
      const fits = active.length < policy.max_concurrent &&
        (policy.max_inrush_watts === undefined || active.length === 0 || drawing + watts <= policy.max_inrush_watts)
      if (fits) break
      t = Math.min(...active.map((a) => a.end))
    }
    active.push({ end: t + policy.estimated_switch_ms, watts })
    lastStart = t
    plan.push({ board_id: board.board_id, start_ms: t, ...(board.watts === undefined ? {} : { power_on_watts: board.watts }) })
  }
  return plan
}

export interface PowerTaskOptions {
  id: string
  action: PowerAction
  policy: PowerPolicy
  targets: TaskTarget[]
  clock?: TaskClock
  audit?: SwitchAudit
  /** Survey only: the boards still to switch stay pending (the plan of a dry run). */
  dryRun?: boolean
  /** Told of every change (the stream shows it); called synchronously. */
  onChange?: (task: PowerTask, board?: TaskBoard) => void
}

export class PowerTask {
  readonly id: string
  readonly action: PowerAction
  readonly policy: PowerPolicy
  readonly boards: TaskBoard[]
  readonly createdAt: number
  state: TaskState = 'running'
  finishedAt: number | undefined
  /** The most boards switching at once in this task. */
  maxSwitching = 0
  /** Boards left alone because they were already in the requested state. */
  skipped = 0
  private readonly counts: Record<BoardTaskState, number> = { pending: 0, switching: 0, confirmed: 0, failed: 0, cancelled: 0 }
  private readonly targets: TaskTarget[]
  private readonly clock: TaskClock
  private readonly audit?: SwitchAudit
  private readonly onChange?: (task: PowerTask, board?: TaskBoard) => void
  private cancelRequested = false
  private readonly dryRun: boolean
  private wake: (() => void) | undefined
  /** Resolves when the task has ended (done or cancelled). */
  readonly finished: Promise<void>

  constructor (options: PowerTaskOptions) {
    this.id = options.id
    this.action = options.action
    this.policy = options.policy
    this.targets = options.targets
    this.clock = options.clock ?? REAL_CLOCK
    this.audit = options.audit
    this.onChange = options.onChange
    this.dryRun = options.dryRun ?? false
    this.createdAt = this.clock.now()
    this.boards = options.targets.map((t) => ({ board_id: boardIdHex(t.boardId), state: 'pending', attempts: 0 }))
    this.counts.pending = this.boards.length
    this.finished = this.run()
  }

  count (state: BoardTaskState): number {
    return this.counts[state]
  }

  /** Stops starting new switches; switches under way are still confirmed. */
  cancel (): void {
    if (this.state !== 'running') return
    this.cancelRequested = true
    this.wake?.()
  }

  get cancelling (): boolean {
    return this.cancelRequested
  }

  private set (board: TaskBoard, state: BoardTaskState, message?: string): void {
    this.counts[board.state]--
    this.counts[state]++
    board.state = state
    if (message === undefined) delete board.message
    else board.message = message
    this.onChange?.(this, board)
  }

  private async run (): Promise<void> {
    await this.work()
    if (this.dryRun) return
    for (const board of this.boards) if (board.state === 'pending') this.set(board, 'cancelled', 'cancelled before its switch started')
    this.state = this.cancelRequested ? 'cancelled' : 'done'
    this.finishedAt = this.clock.now()
    this.onChange?.(this)
  }

  private async work (): Promise<void> {
    try {
      const toSwitch = await this.survey()
      if (this.dryRun) return
      if (this.action !== 'status') await this.switchAll(toSwitch)
    } catch (err) {
      if (this.dryRun) throw err
      // never expected (every board's failure is caught), but a task must end
      for (const board of this.boards) if (board.state === 'pending' || board.state === 'switching') this.set(board, 'failed', `task error: ${(err as Error).message}`)
    }
  }

  /** Every board's power state, read_concurrency at a time; returns the indexes still to switch. */
  private async survey (): Promise<number[]> {
    const toSwitch: number[] = []
    await eachLimited(this.targets.length, this.policy.read_concurrency, async (i) => {
      const target = this.targets[i]
      const board = this.boards[i]
      if (this.cancelRequested) return
      try {
        const state = await this.readStatus(target)
        board.power_status = state
        if (this.action === 'status') {
          this.set(board, 'confirmed', state)
        } else if (alreadyDone(this.action, state)) {
          this.skipped++
          this.set(board, 'confirmed', `already ${state}`)
        } else {
          toSwitch.push(i)
        }
      } catch (err) {
        this.set(board, 'failed', `power status read failed: ${(err as Error).message}`)
      }
    })
    // switched in the order given
    return toSwitch.sort((a, b) => a - b)
  }

  /** A status read, re-read within the retries when it fails (reads change nothing: safe to repeat). */
  private async readStatus (target: TaskTarget): Promise<'on' | 'off'> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await stateOf(target)
      } catch (err) {
        if (attempt >= this.policy.retries || this.cancelRequested) throw err
        await this.clock.sleep(this.policy.confirm_interval_ms)
      }
    }
  }

  private async switchAll (order: number[]): Promise<void> {
    const active = new Set<Promise<void>>()
    let drawing = 0
    let lastStart = Number.NEGATIVE_INFINITY
    const waitForChange = async (ms?: number): Promise<void> => {
      await new Promise<void>((resolve) => {
        this.wake = resolve
        if (ms !== undefined) this.clock.sleep(ms).then(resolve, resolve)
      })
      this.wake = undefined
    }
    for (const i of order) {
      const watts = this.targets[i].watts ?? 0
      for (;;) {
        if (this.cancelRequested) break
        const fits = active.size < this.policy.max_concurrent &&
          (this.policy.max_inrush_watts === undefined || active.size === 0 || drawing + watts <= this.policy.max_inrush_watts)
        if (!fits) { await waitForChange(); continue }
        const gap = lastStart + this.policy.interval_ms - this.clock.now()
        if (gap > 0) { await waitForChange(gap); continue }
        break
      }
      if (this.cancelRequested) break
      lastStart = this.clock.now()
      drawing += watts
      const done = this.switchOne(i).finally(() => {
        active.delete(done)
        drawing -= watts
        this.wake?.()
      })
      active.add(done)
      this.maxSwitching = Math.max(this.maxSwitching, active.size)
    }
    await Promise.all(active)
  }

  /**
   * Sends the switch and reads the state back until it shows (bounded). A
   * command is never re-sent blindly (docs/api.md "Never re-sent blindly"):
   * after a failed or unconfirmed switch the state is read first; an on/off is
   * re-sent (within the retries) only when the last read shows the board
   * definitely not in the wanted state; when the state cannot be read it is not
   * re-sent; a cycle is sent once, never again.
   */
  private async switchOne (i: number): Promise<void> {
    const target = this.targets[i]
    const board = this.boards[i]
    const want = wantedState(this.action) as 'on' | 'off'
    const id = { task_id: this.id, action: this.action, board: board.board_id, device: target.deviceId.toString(16).padStart(4, '0') }
    let reason = ''
    let sent = 0
    for (;;) {
      if (sent > 0) await this.clock.sleep(this.policy.confirm_interval_ms)
      sent++
      board.attempts++
      this.set(board, 'switching', sent === 1 ? undefined : `retry ${sent - 1}: ${reason}`)
      let answered: 'on' | 'off' | undefined
      let commandError: string | undefined
      try {
        answered = (await target.power(target.boardId, target.deviceId, this.action)).power_status
        board.power_status = answered
        this.audit?.({ ...id, result: 'ok' })
      } catch (err) {
        commandError = `switch failed: ${(err as Error).message}`
        this.audit?.({ ...id, result: 'failed', message: commandError })
      }
      const switches = `${sent} switch${sent === 1 ? '' : 'es'} sent`
      if (this.action === 'cycle') {
        const outcome = await this.confirmCycle(target, board, commandError)
        this.set(board, outcome.confirmed ? 'confirmed' : 'failed', outcome.message)
        return
      }
      // an acknowledged on/off's answer is the first read-back (a lost one proves nothing)
      const reads = await this.readBack(target, board, (state) => state === want, answered === want)
      if (reads.seen) {
        const after = reads.count === 0 ? undefined : `confirmed after ${reads.count} read-back${reads.count === 1 ? '' : 's'}`
        this.set(board, 'confirmed', commandError === undefined ? after : `${after ?? 'confirmed'} (${commandError}; not re-sent)`)
        return
      }
      const known = reads.last ?? answered
      if (reads.lastError !== undefined || known === undefined) {
        // the state cannot be read now: re-sending could switch a board already switching
        const failure = commandError === undefined ? 'switch answered' : commandError
        this.set(board, 'failed', `${failure}; state unknown after ${reads.count} read-back${reads.count === 1 ? '' : 's'}: ${reads.lastError ?? 'no read'} (${switches}, not re-sent)`)
        return
      }
      reason = `${commandError === undefined ? '' : `${commandError}; `}still ${known} after ${reads.count} read-backs`
      if (sent > this.policy.retries || this.cancelRequested) {
        this.set(board, 'failed', `${reason} (${switches})`)
        return
      }
    }
  }

  /**
   * Status reads, confirm_interval_ms apart, until `done` says the state is
   * reached, at most confirm_reads of them. `already`: the answer showed it.
   * Returns the last state read and, when the last read failed, why.
   */
  private async readBack (target: TaskTarget, board: TaskBoard, done: (state: 'on' | 'off') => boolean, already = false): Promise<{ seen: boolean, count: number, last?: 'on' | 'off', lastError?: string }> {
    let count = 0
    let last: 'on' | 'off' | undefined
    let lastError: string | undefined
    let seen = already
    while (!seen && count < this.policy.confirm_reads) {
      await this.clock.sleep(this.policy.confirm_interval_ms)
      count++
      try {
        last = await stateOf(target)
        board.power_status = last
        lastError = undefined
        seen = done(last)
      } catch (err) {
        lastError = `read-back failed: ${(err as Error).message}`
      }
    }
    return { seen, count, ...(last === undefined ? {} : { last }), ...(lastError === undefined ? {} : { lastError }) }
  }

  /**
   * A cycle is sent once and never again: a second cycle of a board whose
   * first one happened would cut its power twice. Acknowledged, it is
   * confirmed when a read-back shows the board on. Its answer lost (an error
   * or a timeout), only a read of off followed by a read of on shows that it
   * happened; on alone may be the board never cycled.
   */
  private async confirmCycle (target: TaskTarget, board: TaskBoard, commandError: string | undefined): Promise<{ confirmed: boolean, message?: string }> {
    if (commandError === undefined) {
      const reads = await this.readBack(target, board, (state) => state === 'on')
      if (reads.seen) return { confirmed: true, message: `confirmed after ${reads.count} read-back${reads.count === 1 ? '' : 's'}` }
      const state = reads.lastError ?? `still ${reads.last ?? 'unknown'}`
      return { confirmed: false, message: `cycle acknowledged; ${state} after ${reads.count} read-backs (a cycle is never re-sent)` }
    }
    let sawOff = false
    const reads = await this.readBack(target, board, (state) => {
      if (state === 'off') sawOff = true
      return sawOff && state === 'on'
    })
    if (reads.seen) return { confirmed: true, message: `cycle confirmed by read-backs: off, then on after ${reads.count} (${commandError}; not re-sent)` }
    const seen = reads.lastError !== undefined
      ? `the state could not be read (${reads.lastError})`
      : reads.last === 'on'
        ? `it reads on after ${reads.count} read-backs, never off, which does not show that it cycled`
        : `it reads ${reads.last ?? 'unknown'} after ${reads.count} read-backs`
    return { confirmed: false, message: `cycle outcome unknown: ${commandError}; ${seen} (a cycle is never re-sent)` }
  }
}

/** Runs fn(0..n-1), at most `limit` at once. */
async function eachLimited (n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await fn(next++)
  }))
}
