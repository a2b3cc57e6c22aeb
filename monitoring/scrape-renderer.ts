import { Worker } from 'node:worker_threads'
import type { MetricFamily } from '../drivers/bus.js'
import { OpenDcreError } from '../drivers/errors.js'
import { ScrapePacker, transferList } from './scrape-pack.js'

/**
 * The /metrics body, written and gzipped in a worker thread
 * (monitoring/scrape-worker.ts): at 5,000 BMCs a scrape is ~25 MB of text,
 * ~0.4 s of CPU to write and gzip, which on the event loop the poller
 * shares stretched to 1.4 s and held the poller's answers up. Here the
 * event loop only packs numbers (monitoring/scrape-pack.ts).
 *
 * Bounded: one render at a time; a scrape that comes while one with the
 * same encoding runs or waits shares it; a render that passes timeoutMs,
 * or a worker that dies, fails the scrape (the caller answers 500) and
 * the next scrape starts a new worker, which is sent every label again.
 */
export interface ScrapeRendererOptions {
  /** How long one render may take (ms). */
  timeoutMs: number
  /** The worker's heap bound (MB): a runaway render ends the worker, not the service. */
  maxHeapMb?: number
}

/** What a scrape renders: prom-client's text first, then the families. */
export interface ScrapeSnapshot {
  head: string
  families: MetricFamily[]
}

interface Pending {
  id: number
  resolve: (body: Buffer) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class ScrapeRenderer {
  private worker: Worker | undefined
  private readonly packer = new ScrapePacker()
  private readonly labelCache = new WeakMap<object, string>()
  private pending: Pending | undefined
  /** The render that runs and the ones that wait, by encoding. */
  private readonly shared = new Map<boolean, Promise<Buffer>>()
  private tail: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor (private readonly opts: ScrapeRendererOptions) {}

  /** The body: gzipped or plain text. snapshot() is called on the event loop when this render's turn comes. */
  async render (gzip: boolean, snapshot: () => Promise<ScrapeSnapshot>): Promise<Buffer> {
    const running = this.shared.get(gzip)
    if (running !== undefined) return await running
    const body = this.tail.then(async () => await this.run(gzip, await snapshot()))
    this.shared.set(gzip, body)
    const settled = body.then(() => {}, () => {}).finally(() => {
      if (this.shared.get(gzip) === body) this.shared.delete(gzip)
    })
    this.tail = settled
    return await body
  }

  /** Ends the worker; a render in progress fails. */
  async close (): Promise<void> {
    this.closed = true
    this.fail(new OpenDcreError('unavailable', 'metrics: the service is closing'))
  }

  /** Whether a worker is running (for tests). */
  get threadId (): number | undefined {
    return this.worker?.threadId
  }

  private async run (gzip: boolean, snapshot: ScrapeSnapshot): Promise<Buffer> {
    if (this.closed) throw new OpenDcreError('unavailable', 'metrics: the service is closing')
    const worker = this.start()
    let job
    try {
      job = this.packer.pack(gzip, snapshot.head, snapshot.families, this.labelCache)
    } catch (err) {
      this.packer.reset()
      throw err
    }
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => { this.fail(new OpenDcreError('timeout', `metrics: the render took over ${this.opts.timeoutMs} ms`)) }, this.opts.timeoutMs)
      this.pending = { id: job.id, resolve, reject, timer }
      worker.postMessage(job, transferList(job))
    })
  }

  private start (): Worker {
    if (this.worker !== undefined) return this.worker
    // beside this file: scrape-worker.ts under tap's TypeScript loader, scrape-worker.js once built
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
    const worker = new Worker(new URL(`./scrape-worker${ext}`, import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb ?? 512 },
      stdout: false,
      stderr: false
    })
    worker.unref()
    worker.on('message', (message: { id: number, body?: Uint8Array, error?: string }) => {
      const pending = this.pending
      if (pending === undefined || pending.id !== message.id) return
      this.pending = undefined
      clearTimeout(pending.timer)
      if (message.body !== undefined) {
        pending.resolve(Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength))
      } else {
        // the worker may not hold every label this job sent: send them all next time
        this.packer.reset()
        pending.reject(new OpenDcreError('unavailable', `metrics: the render failed: ${message.error ?? 'no reason given'}`))
      }
    })
    worker.on('error', (err) => { if (this.worker === worker) this.fail(new OpenDcreError('unavailable', `metrics: the render worker failed: ${err.message}`)) })
    worker.on('exit', (code) => { if (this.worker === worker) this.fail(new OpenDcreError('unavailable', `metrics: the render worker exited (code ${code})`)) })
    this.worker = worker
    this.packer.reset()
    return worker
  }

  /** The render in progress fails and the worker ends; the next render starts a new one. */
  private fail (err: Error): void {
    const worker = this.worker
    this.worker = undefined
    this.packer.reset()
    if (worker !== undefined) worker.terminate().catch(() => {})
    const pending = this.pending
    this.pending = undefined
    if (pending !== undefined) {
      clearTimeout(pending.timer)
      pending.reject(err)
    }
  }
}
