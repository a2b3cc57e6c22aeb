import { constants as zlibConstants } from 'node:zlib'
import type { MetricFamily } from '../drivers/bus.js'

/**
 * The Prometheus text format 0.0.4, written directly: at 1,000 BMCs that
 * is ~35,000 samples a scrape, which prom-client takes 0.2-0.7 s to reset,
 * set and render, and this a few tens of ms. Shared by the metrics plugin
 * (families rendered on the event loop) and the scrape worker
 * (monitoring/scrape-worker.ts), so both write the same bytes.
 */

/**
 * The scrape's gzip level: 1. The text repeats its metric and label names
 * line after line, so the fastest level already shrinks it about tenfold;
 * level 6 (zlib's default) took ~4 times the CPU for a few percent less.
 * Output in 256 KB pieces: each is one turn of the loop that reads it.
 */
export const SCRAPE_GZIP = { level: 1, memLevel: 9, strategy: zlibConstants.Z_DEFAULT_STRATEGY, chunkSize: 256 * 1024 }

/** The scrape's text goes to gzip in pieces of this size (~8 ms of writing each). */
export const PIECE = 2 * 1024 * 1024

/** Families of one name from several sources, in first-seen order: merged under one HELP/TYPE. */
export function byName (families: MetricFamily[]): Map<string, MetricFamily[]> {
  const out = new Map<string, MetricFamily[]>()
  for (const family of families) {
    const list = out.get(family.name)
    if (list === undefined) out.set(family.name, [family])
    else list.push(family)
  }
  return out
}

export function familyHeader (name: string, family: MetricFamily): string {
  return `# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}\n`
}

/**
 * Scrape-time metric families (the backends' Bus.status().metrics and the
 * poller's per-sensor series) as text, after `head` (prom-client's own
 * text). The text goes line by line into Buffers, not into one string: a
 * 4 MB string built with += is a tree of ~35,000 pieces that a
 * young-generation collection in the middle of a scrape moves to the old
 * generation, where it stayed until the next full collection.
 */
export function renderFamilies (families: MetricFamily[], labelCache: WeakMap<object, string> = new WeakMap(), head = ''): Buffer {
  return Buffer.concat([...renderChunks(families, labelCache, head)])
}

/** The same text in pieces of about PIECE bytes, written as they are asked for. */
export function * renderChunks (families: MetricFamily[], labelCache: WeakMap<object, string> = new WeakMap(), head = ''): Generator<Buffer> {
  const out = new TextChunks()
  out.write(head)
  for (const [name, list] of byName(families)) {
    out.write(familyHeader(name, list[0]))
    for (const family of list) {
      for (const text of familyLines(name, family, labelCache)) {
        out.write(text)
        if (out.full !== undefined) yield out.take()
      }
    }
  }
  const last = out.end()
  if (last.length > 0) yield last
}

/** One family's lines (no HELP/TYPE): its own `lines` when it gives them, else from its samples. */
export function * familyLines (name: string, family: MetricFamily, labelCache: WeakMap<object, string>): Generator<string> {
  if (family.lines !== undefined) {
    yield * family.lines()
    return
  }
  for (const sample of family.samples) {
    // a labels object a source keeps from scrape to scrape is written once
    yield `${name}${sample.suffix ?? ''}${labelsOf(family, sample.labels, labelCache)} ${formatValue(sample.value)}\n`
  }
}

/** A sample's label text, cached by its labels object (written with the first family that uses it). */
export function labelsOf (family: MetricFamily, labels: Record<string, string>, labelCache: WeakMap<object, string>): string {
  let text = labelCache.get(labels)
  if (text === undefined) {
    text = renderLabels(family.labelNames, labels)
    labelCache.set(labels, text)
  }
  return text
}

/**
 * UTF-8 text appended to PIECE-byte Buffers (outside the JavaScript heap),
 * lines gathered into a string of up to 16 K characters first (one
 * Buffer.write per line was a third of a scrape's time). A filled Buffer
 * waits in `full` until taken.
 */
export class TextChunks {
  full: Buffer | undefined
  private chunk: Buffer = Buffer.allocUnsafe(0)
  private used = 0
  private pending = ''
  /** The piece before the last, written over when reuse is on. */
  private spare: Buffer | undefined

  /**
   * reuse: two pieces take turns, so the text of a scrape costs 4 MB of
   * Buffers however long it is, not a new 2 MB piece each time (~30 a
   * scrape at 5,000 BMCs, held until a collection). Only for a reader that
   * is done with each piece before it asks for the next (the scrape worker
   * waits for gzip to drain).
   */
  constructor (private readonly reuse = false) {}

  write (text: string): void {
    this.pending += text
    if (this.pending.length >= 16384) this.flush()
  }

  take (): Buffer {
    const full = this.full as Buffer
    this.full = undefined
    return full
  }

  private flush (): void {
    const text = this.pending
    this.pending = ''
    // a UTF-8 byte count is at most 3 per UTF-16 unit
    if (this.chunk.length - this.used < text.length * 3) {
      // the writer takes each full Buffer before the next one fills; a piece left untaken is kept whole
      if (this.used > 0) this.full = this.full === undefined ? this.chunk.subarray(0, this.used) : Buffer.concat([this.full, this.chunk.subarray(0, this.used)])
      const size = Math.max(PIECE, text.length * 3)
      const next = this.reuse && this.spare !== undefined && this.spare.length >= size ? this.spare : Buffer.allocUnsafe(size)
      this.spare = this.reuse && this.chunk.length > 0 ? this.chunk : undefined
      this.chunk = next
      this.used = 0
    }
    this.used += this.chunk.write(text, this.used)
  }

  /** What is left, after the last write. */
  end (): Buffer {
    this.flush()
    const rest = this.chunk.subarray(0, this.used)
    this.used = 0
    const full = this.full
    this.full = undefined
    return full === undefined ? rest : Buffer.concat([full, rest])
  }
}

/** `{a="x",b="y"}` as one flat string (joined: a string built with += keeps its pieces, ~700 bytes a label set). */
export function renderLabels (names: readonly string[], values: Record<string, string>): string {
  const parts: string[] = []
  for (const label of names) {
    const value = values[label]
    if (value === undefined) continue
    parts.push(parts.length === 0 ? '{' : ',', label, '="', escapeLabel(value), '"')
  }
  if (parts.length === 0) return ''
  parts.push('}')
  return parts.join('')
}

export function escapeHelp (text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

/** Prometheus label value escaping (text format 0.0.4). */
export function escapeLabel (text: string): string {
  return /[\\"\n]/.test(text) ? text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : text
}

export function formatValue (value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}
