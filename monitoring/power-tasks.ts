import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { PowerTask, REAL_CLOCK, type PowerTaskOptions, type TaskBoard, type TaskClock } from './power-task.js'

/**
 * The bulk power tasks of one service, in bounded memory: at most maxTasks
 * kept (the oldest finished one goes first; when every kept task is still
 * running a new one is refused), a finished task expires after ttlMs, and
 * Idempotency-Key entries (at most maxKeys, same ttl) map a key to the task it
 * started. Emits 'task' (task, board?) on every change, for the stream.
 */
export interface PowerTasksOptions {
  maxTasks?: number
  maxKeys?: number
  ttlMs?: number
  clock?: TaskClock
}

export class TooManyTasksError extends Error {}
export class IdempotencyConflictError extends Error {}

interface KeyEntry { taskId: string, fingerprint: string, at: number }

export class PowerTasks extends EventEmitter {
  private readonly tasks = new Map<string, PowerTask>()
  private readonly keys = new Map<string, KeyEntry>()
  private readonly maxTasks: number
  private readonly maxKeys: number
  private readonly ttlMs: number
  private readonly clock: TaskClock

  constructor (options: PowerTasksOptions = {}) {
    super()
    this.maxTasks = options.maxTasks ?? 100
    this.maxKeys = options.maxKeys ?? 1000
    this.ttlMs = options.ttlMs ?? 3_600_000
    this.clock = options.clock ?? REAL_CLOCK
  }

  /**
   * The task an Idempotency-Key already started, if the same request
   * (`fingerprint`) used it; a different request with the key is refused.
   */
  replay (key: string, fingerprint: string): PowerTask | undefined {
    this.expire()
    const entry = this.keys.get(key)
    if (entry === undefined) return undefined
    if (entry.fingerprint !== fingerprint) throw new IdempotencyConflictError('this Idempotency-Key was used for a different request')
    return this.tasks.get(entry.taskId)
  }

  /** Starts a task (it runs on its own); refused when maxTasks are kept and all still run. */
  start (options: Omit<PowerTaskOptions, 'id' | 'clock' | 'onChange'>, idempotency?: { key: string, fingerprint: string }): PowerTask {
    this.expire()
    if (this.tasks.size >= this.maxTasks) {
      const oldestFinished = [...this.tasks.values()].find((t) => t.state !== 'running')
      if (oldestFinished === undefined) throw new TooManyTasksError(`${this.maxTasks} bulk power tasks are running; wait for one to end or cancel one`)
      this.tasks.delete(oldestFinished.id)
    }
    const task = new PowerTask({
      ...options,
      id: randomUUID(),
      clock: this.clock,
      onChange: (t: PowerTask, board?: TaskBoard) => { if (this.listenerCount('task') > 0) this.emit('task', t, board) }
    })
    this.tasks.set(task.id, task)
    if (idempotency !== undefined) {
      if (this.keys.size >= this.maxKeys) this.keys.delete(this.keys.keys().next().value as string)
      this.keys.set(idempotency.key, { taskId: task.id, fingerprint: idempotency.fingerprint, at: this.clock.now() })
    }
    return task
  }

  get (id: string): PowerTask | undefined {
    this.expire()
    return this.tasks.get(id)
  }

  list (): PowerTask[] {
    this.expire()
    return [...this.tasks.values()]
  }

  private expire (): void {
    const now = this.clock.now()
    for (const [id, task] of this.tasks) {
      if (task.finishedAt !== undefined && now - task.finishedAt > this.ttlMs) this.tasks.delete(id)
    }
    for (const [key, entry] of this.keys) {
      if (now - entry.at > this.ttlMs) this.keys.delete(key)
    }
  }

  /** Cancels every running task and waits for their switches under way (bounded by each policy). */
  async close (): Promise<void> {
    const running = [...this.tasks.values()].filter((t) => t.state === 'running')
    for (const task of running) task.cancel()
    await Promise.all(running.map(async (t) => await t.finished))
  }
}

/** A task's id, action, state and counts, as both the API and the stream give them. */
function taskTotals (task: PowerTask): Record<string, unknown> {
  return {
    task_id: task.id,
    action: task.action,
    state: task.state,
    total: task.boards.length,
    confirmed: task.count('confirmed'),
    failed: task.count('failed'),
    pending: task.count('pending'),
    switching: task.count('switching'),
    cancelled: task.count('cancelled')
  }
}

/** A task as the API shows it (GET /tasks/:id). */
export function taskView (task: PowerTask, withBoards = true): Record<string, unknown> {
  return {
    ...taskTotals(task),
    skipped: task.skipped,
    max_switching: task.maxSwitching,
    policy: task.policy,
    created_at: new Date(task.createdAt).toISOString(),
    finished_at: task.finishedAt === undefined ? null : new Date(task.finishedAt).toISOString(),
    ...(withBoards ? { boards: task.boards } : {})
  }
}

/** The stream's `task` event (docs/monitoring.md): the totals, and the board that changed. */
export function taskEvent (task: PowerTask, board?: TaskBoard): string {
  return `event: task\ndata: ${JSON.stringify({
    ...taskTotals(task),
    ...(board === undefined ? {} : { board })
  })}\n\n`
}
