import type { MetricFamily } from '../drivers/bus.js'
import { byName, familyHeader, familyLines, formatValue, renderLabels, TextChunks } from './exposition.js'

/**
 * A scrape packed for the scrape worker (monitoring/scrape-worker.ts): the
 * event loop sends each series' label text once, when it first appears
 * (or changes), and at each scrape only numbers: per line a label slot, a
 * value and an optional extra-label code, in typed arrays that are
 * transferred, not copied. The worker keeps the label text by slot and
 * writes the same bytes as the families' own text (monitoring/exposition.ts).
 */

/** Where a family that keeps its label text puts its lines for the worker. */
export interface LineSink {
  /**
   * One line `${name}${labels} ${value}`. key: an object kept while the
   * label text stays the same (the text is read only when the key is new);
   * extra: text that replaces the labels' closing brace (`,threshold="x"}`).
   */
  line: (key: object, labels: string, value: number, extra?: string) => void
}

/**
 * A key that keeps its own slot (the per-sensor label text): a field read
 * instead of a WeakMap lookup for each of ~450,000 lines at 5,000 BMCs.
 * Made with both fields (one shape); owner says which packer, and which of
 * its fresh starts, handed the slot out.
 */
export interface SlotHolder {
  scrapeSlot: number
  scrapeSlotOwner: object | undefined
}

/** A family that can put its lines into a LineSink (the poller's per-sensor series). */
export interface PackableFamily extends MetricFamily {
  pack: (sink: LineSink) => void
}

export function isPackable (family: MetricFamily): family is PackableFamily {
  return typeof (family as Partial<PackableFamily>).pack === 'function'
}

/** The lines of one name: slots, values and extra codes from start to end. */
export interface LineRun {
  name: string
  start: number
  end: number
}

/** One scrape, as the worker is sent it. */
export interface ScrapeJob {
  id: number
  gzip: boolean
  /** The worker drops every label text it keeps before taking newLabels (a new worker, or slots compacted). */
  reset: boolean
  newSlots: Int32Array
  newLabels: string[]
  /** Every extra text by code. */
  extras: string[]
  /** In order: text as it is, or runs of lines. */
  parts: Array<string | LineRun>
  slots: Int32Array
  values: Float64Array
  /** -1: no extra. */
  codes: Int16Array
}

/** The typed arrays a job transfers. */
export function transferList (job: ScrapeJob): ArrayBuffer[] {
  return [job.newSlots.buffer, job.slots.buffer, job.values.buffer, job.codes.buffer] as ArrayBuffer[]
}

/**
 * Packs scrapes on the event loop. Label slots are handed out per key
 * object (WeakMap); keys that go away leave their slot behind, so when the
 * slots handed out pass twice those a scrape used, the next job starts
 * afresh (reset) and sends every label text again.
 */
export class ScrapePacker implements LineSink {
  private slotOf = new WeakMap<object, number>()
  /** Changes at each fresh start: slots kept on SlotHolders from before are stale. */
  private owner: object = {}
  private nextSlot = 0
  private mustReset = true
  private lastUsed = new Uint32Array(1024)
  private usedSlots = 0
  private jobId = 0
  private readonly extraCodes = new Map<string, number>()
  private readonly extraTable: string[] = []
  private newSlots: number[] = []
  private newLabels: string[] = []
  private parts: Array<string | LineRun> = []
  private slots = new Int32Array(1024)
  private values = new Float64Array(1024)
  private codes = new Int16Array(1024)
  private count = 0

  /** The worker that knew the label text is gone: the next job sends them all again. */
  reset (): void {
    this.mustReset = true
  }

  pack (gzip: boolean, head: string, families: MetricFamily[], labelCache: WeakMap<object, string>): ScrapeJob {
    const reset = this.mustReset || this.nextSlot > 2 * this.usedSlots + 4096
    if (reset) {
      this.slotOf = new WeakMap()
      this.owner = {}
      this.nextSlot = 0
      this.mustReset = false
    }
    this.jobId = (this.jobId + 1) >>> 0 || 1
    this.usedSlots = 0
    this.parts = []
    this.count = 0
    this.text(head)
    for (const [name, list] of byName(families)) {
      this.text(familyHeader(name, list[0]))
      for (const family of list) {
        if (isPackable(family)) {
          this.run(name, () => { family.pack(this) })
        } else if (family.lines !== undefined || family.samples.some((s) => s.suffix !== undefined)) {
          this.text([...familyLines(name, family, labelCache)].join(''))
        } else {
          this.run(name, () => {
            for (const sample of family.samples) {
              this.put(this.slotFor(sample.labels, () => renderLabels(family.labelNames, sample.labels)), sample.value, -1)
            }
          })
        }
      }
    }
    const job: ScrapeJob = {
      id: this.jobId,
      gzip,
      reset,
      newSlots: Int32Array.from(this.newSlots),
      newLabels: this.newLabels,
      extras: [...this.extraTable],
      parts: this.parts,
      slots: this.slots,
      values: this.values,
      codes: this.codes
    }
    // the arrays go to the worker; the next job gets its own, as large
    this.slots = new Int32Array(this.slots.length)
    this.values = new Float64Array(this.values.length)
    this.codes = new Int16Array(this.codes.length)
    this.newSlots = []
    this.newLabels = []
    this.parts = []
    return job
  }

  line (key: object, labels: string, value: number, extra?: string): void {
    let code = -1
    if (extra !== undefined) {
      code = this.extraCodes.get(extra) ?? -1
      if (code < 0) {
        code = this.extraTable.length
        if (code > 0x7fff) throw new Error('metrics: too many distinct extra labels')
        this.extraTable.push(extra)
        this.extraCodes.set(extra, code)
      }
    }
    this.put(this.slotFor(key, () => labels), value, code)
  }

  private slotFor (key: object, labels: () => string): number {
    const holder = key as Partial<SlotHolder>
    let slot = holder.scrapeSlotOwner === this.owner ? holder.scrapeSlot : this.slotOf.get(key)
    if (slot === undefined) {
      slot = this.nextSlot++
      if (Object.hasOwn(key, 'scrapeSlotOwner')) {
        holder.scrapeSlot = slot
        holder.scrapeSlotOwner = this.owner
      } else {
        this.slotOf.set(key, slot)
      }
      this.newSlots.push(slot)
      this.newLabels.push(labels())
    }
    if (slot >= this.lastUsed.length) {
      const grown = new Uint32Array(Math.max(slot + 1, this.lastUsed.length * 2))
      grown.set(this.lastUsed)
      this.lastUsed = grown
    }
    if (this.lastUsed[slot] !== this.jobId) {
      this.lastUsed[slot] = this.jobId
      this.usedSlots++
    }
    return slot
  }

  private put (slot: number, value: number, code: number): void {
    if (this.count === this.slots.length) this.grow()
    this.slots[this.count] = slot
    this.values[this.count] = value
    this.codes[this.count] = code
    this.count++
  }

  private grow (): void {
    const size = this.slots.length * 2
    const slots = new Int32Array(size)
    slots.set(this.slots)
    const values = new Float64Array(size)
    values.set(this.values)
    const codes = new Int16Array(size)
    codes.set(this.codes)
    this.slots = slots
    this.values = values
    this.codes = codes
  }

  private text (text: string): void {
    if (text === '') return
    const last = this.parts.length - 1
    if (last >= 0 && typeof this.parts[last] === 'string') this.parts[last] += text
    else this.parts.push(text)
  }

  private run (name: string, fill: () => void): void {
    const start = this.count
    fill()
    if (this.count > start) this.parts.push({ name, start, end: this.count })
  }
}

/** The label text a worker keeps, by slot. */
export class LabelStore {
  private labels: string[] = []

  take (job: ScrapeJob): void {
    if (job.reset) this.labels = []
    for (let i = 0; i < job.newSlots.length; i++) this.labels[job.newSlots[i]] = job.newLabels[i]
  }

  get (slot: number): string {
    const text = this.labels[slot]
    if (text === undefined) throw new Error(`metrics: no label text for slot ${slot}`)
    return text
  }
}

/**
 * A job's text in pieces of about PIECE bytes (monitoring/exposition.ts), as
 * the families would write it. reuse: each piece is written over two pieces
 * later (for a reader done with each piece before it asks for the next).
 */
export function * renderJob (job: ScrapeJob, store: LabelStore, reuse = false): Generator<Buffer> {
  const out = new TextChunks(reuse)
  for (const part of job.parts) {
    if (typeof part === 'string') {
      out.write(part)
    } else {
      for (let i = part.start; i < part.end; i++) {
        writeLines(out, part.name, job, store, i, i + 1)
        if (out.full !== undefined) yield out.take()
      }
    }
    if (out.full !== undefined) yield out.take()
  }
  const last = out.end()
  if (last.length > 0) yield last
}

/** Lines start to end of a job (all of one name) into out, as the families write them. */
export function writeLines (out: TextChunks, name: string, job: ScrapeJob, store: LabelStore, start: number, end: number): void {
  const { slots, values, codes, extras } = job
  for (let i = start; i < end; i++) {
    const labels = store.get(slots[i])
    const code = codes[i]
    out.write(`${name}${code < 0 ? labels : labels.slice(0, -1) + extras[code]} ${formatValue(values[i])}\n`)
  }
}
