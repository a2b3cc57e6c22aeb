interface Waiting {
  fn: (arg: never) => Promise<unknown>
  arg: unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

/**
 * At most `limit` jobs running at once, the others waiting in the order
 * they came (p-limit's contract), for the poller, which runs one job per
 * device read (~4,000 a second at 5,000 BMCs), the event watch, the IPMI
 * bus's scan and each Redfish service's requests. p-limit makes about seven
 * promises and as many closures per job; here a job that finds a free
 * place starts at once (synchronously) and costs one promise, and the
 * argument is passed along rather than closed over. A job that throws
 * counts as one that failed.
 */
export class ConcurrencyLimit {
  private active = 0
  private waiting: Waiting[] = []
  /** The first waiting job's place in `waiting` (taken from the front without shifting the array). */
  private head = 0

  constructor (readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new TypeError(`ConcurrencyLimit: ${limit} is not a positive integer`)
  }

  /** Jobs running. */
  get activeCount (): number {
    return this.active
  }

  /** Jobs waiting for a place. */
  get pendingCount (): number {
    return this.waiting.length - this.head
  }

  /** Drops every waiting job (as p-limit's clearQueue: their promises never settle); those running go on. */
  clearQueue (): void {
    this.waiting = []
    this.head = 0
  }

  /** Runs `fn(arg)` when a place is free; settles as its promise does. */
  run<T, A> (fn: (arg: A) => Promise<T>, arg: A): Promise<T> {
    if (this.active < this.limit) {
      this.active++
      return this.start(fn, arg)
    }
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ fn: fn as (arg: never) => Promise<unknown>, arg, resolve: resolve as (value: unknown) => void, reject })
    })
  }

  private start<T, A> (fn: (arg: A) => Promise<T>, arg: A): Promise<T> {
    let done: Promise<T>
    try {
      done = fn(arg)
    } catch (err) {
      done = Promise.reject(err)
    }
    // the caller handles the job's own failure; this branch only frees the place
    done.then(this.next, this.next)
    return done
  }

  /** A place freed: the oldest waiting job takes it. */
  private readonly next = (): void => {
    if (this.head === this.waiting.length) {
      this.active--
      return
    }
    const job = this.waiting[this.head]
    this.waiting[this.head] = undefined as unknown as Waiting
    this.head++
    if (this.head === this.waiting.length) {
      this.waiting = []
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.head)
      this.head = 0
    }
    this.start(job.fn as (arg: unknown) => Promise<unknown>, job.arg).then(job.resolve, job.reject)
  }
}
