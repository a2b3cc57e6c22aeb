import { OverloadedError } from '../errors.js'
import { currentClient, runAs } from './request-context.js'

export interface QueueLimits {
  /** Requests that may wait (the one running is not counted). */
  depth: number
  /** A request that has not started after this long fails at once. */
  waitMs: number
}

interface Job {
  client: string
  start: () => void
  fail: (err: Error) => void
  timer: NodeJS.Timeout
}

/**
 * One resource (a serial bus, a BMC) used by one job at a time, its waiting
 * room bounded in size and in time, shared fairly between clients: each
 * client has its own line and the lines take turns (round robin); a client
 * with nothing waiting goes to the front, so a client with hundreds of
 * requests waiting delays another client's request by at most the job
 * running. When the waiting room is full, a newcomer takes the
 * place of the newest request of the client holding the most places, if that
 * client holds more than the newcomer would; otherwise the newcomer is
 * refused at once. Refusals are OverloadedError ('overloaded', 503).
 */
export class FairQueue {
  /** Waiting jobs per client, in the order the lines take turns. */
  private readonly lines = new Map<string, Job[]>()
  private waiting = 0
  private running = false
  private closedReason?: () => Error

  constructor (
    readonly limits: QueueLimits,
    private readonly what: string,
    private readonly clientOf: () => string = currentClient
  ) {}

  /** Jobs waiting (not the one running). */
  get depth (): number {
    return this.waiting
  }

  /** Run `fn(arg)` when it is this request's turn (the argument saves a closure per call on a hot path). */
  run<T, A = undefined> (fn: (arg: A) => Promise<T>, arg?: A): Promise<T> {
    if (this.closedReason !== undefined) return Promise.reject(this.closedReason())
    if (!this.running && this.waiting === 0) {
      // a free resource: the job runs now, in its caller's context (the poller's usual case: no
      // binding, no promise of our own; the next job is started before this one's caller resumes)
      this.running = true
      let done: Promise<T>
      try {
        done = fn(arg as A)
      } catch (err) {
        done = Promise.reject(err)
      }
      return done.then(this.finished as (value: T) => T, this.failed)
    }
    const client = this.clientOf()
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        let done: Promise<T>
        try {
          done = fn(arg as A)
        } catch (err) {
          done = Promise.reject(err)
        }
        // the next job is started before this one's caller resumes
        done.then((value) => { this.finish(); resolve(value) }, (err: unknown) => { this.finish(); reject(err) })
      }
      // a job that waits runs later on behalf of its own client, not of the job before it
      const job: Job = {
        client,
        start: () => { runAs(client, start) },
        fail: reject,
        timer: undefined as unknown as NodeJS.Timeout
      }
      if (!this.admit(job)) {
        reject(this.full())
        return
      }
      job.timer = setTimeout(() => {
        this.remove(job)
        reject(new OverloadedError(`${this.what} busy: waited more than ${this.limits.waitMs} ms`, this.retryAfterSeconds()))
      }, this.limits.waitMs)
    })
  }

  /** Every waiting job fails with `reason`; later calls too. */
  close (reason: () => Error): void {
    this.closedReason = reason
    for (const line of this.lines.values()) {
      for (const job of line) {
        clearTimeout(job.timer)
        job.fail(reason())
      }
    }
    this.lines.clear()
    this.waiting = 0
  }

  private admit (job: Job): boolean {
    if (this.waiting >= this.limits.depth) {
      // full: make room only by taking from a client that holds more than its share
      const mine = this.lines.get(job.client)?.length ?? 0
      let biggest: Job[] | undefined
      for (const line of this.lines.values()) if (biggest === undefined || line.length > biggest.length) biggest = line
      if (biggest === undefined || biggest.length <= mine + 1) return false
      const evicted = biggest[biggest.length - 1]
      this.remove(evicted)
      evicted.fail(new OverloadedError(`${this.what} busy: more than ${this.limits.depth} requests waiting; this one gave its place to another client's`, this.retryAfterSeconds()))
    }
    const line = this.lines.get(job.client)
    if (line !== undefined) line.push(job)
    else {
      // a client with nothing waiting goes next: light users before those with long lines
      const others = [...this.lines]
      this.lines.clear()
      this.lines.set(job.client, [job])
      for (const [client, waiting] of others) this.lines.set(client, waiting)
    }
    this.waiting++
    return true
  }

  private remove (job: Job): void {
    clearTimeout(job.timer)
    const line = this.lines.get(job.client)
    if (line === undefined) return
    const i = line.indexOf(job)
    if (i < 0) return
    line.splice(i, 1)
    this.waiting--
    if (line.length === 0) this.lines.delete(job.client)
  }

  /** The free path's handlers, made once. */
  private readonly finished = (value: unknown): unknown => { this.finish(); return value }
  private readonly failed = (err: unknown): never => { this.finish(); throw err }

  private finish (): void {
    this.running = false
    this.next()
  }

  /** The next client's turn: its oldest job runs, and its line goes to the back. */
  private next (): void {
    const first = this.lines.entries().next()
    if (first.done === true) return
    const [client, line] = first.value
    const job = line.shift() as Job
    this.waiting--
    this.lines.delete(client)
    if (line.length > 0) this.lines.set(client, line)
    clearTimeout(job.timer)
    this.running = true
    job.start()
  }

  private full (): OverloadedError {
    return new OverloadedError(`${this.what} busy: more than ${this.limits.depth} requests waiting`, this.retryAfterSeconds())
  }

  private retryAfterSeconds (): number {
    return Math.max(1, Math.ceil(this.limits.waitMs / 1000))
  }
}
