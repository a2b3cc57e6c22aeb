import { constants as zlibConstants, crc32, deflateRawSync } from 'node:zlib'
import { SCRAPE_GZIP, TextChunks } from './exposition.js'
import { LabelStore, renderJob, type ScrapeJob, writeLines } from './scrape-pack.js'

/**
 * The scrape worker's gzip body, with the compressed bytes of unchanged
 * lines kept from scrape to scrape. Over half of a scrape's lines are
 * thresholds, and the sensor states and board_up lines rarely change
 * either: writing their text and compressing it again each scrape was most
 * of the worker's CPU.
 *
 * The lines of a run (one metric name) are cut into segments of about
 * SEGMENT_SLOTS series each (~20 BMCs' sensors). A segment whose
 * lines (slot, value, extra code) are the same as at the last gzip scrape
 * is compressed on its own (raw deflate ended by a sync flush, so that it
 * refers to nothing before it and can be put anywhere in a stream) and its
 * bytes kept; at the next scrape with the same lines those bytes are put
 * in as they are. Everything else (text parts, segments that changed) is
 * compressed in pieces of up to PIECE bytes, each a unit of its own too.
 * The gzip trailer's CRC-32 is combined from each unit's (crc32Combine).
 * The text inside is byte for byte the families' own (test/scrape-worker.test.ts).
 *
 * Memory: the kept compressed segments (~1/15 of their text) and the last
 * gzip job's typed arrays (14 bytes a line), to compare lines with.
 */

/**
 * Segments are cut by content, not position: a segment ends before a line
 * whose slot differs from the line before's and is an anchor (one slot in
 * SEGMENT_SLOTS, by a hash of the slot), so a series that comes or goes
 * changes only its own segment. The families do not give their lines in
 * slot order (a board's threshold lines take the slots of the families that
 * first named each sensor), hence a hash and not slot ranges.
 */
export const SEGMENT_SLOTS = 256
const ANCHOR_SHIFT = 32 - Math.log2(SEGMENT_SLOTS)
/** A bound on a segment's lines (for a long run without an anchor). */
const MAX_SEGMENT_LINES = 16384

function anchor (slot: number): boolean {
  return Math.imul(slot, 0x9e3779b1) >>> ANCHOR_SHIFT === 0
}

/** Each unit a deflate stream of its own, ended by a sync flush: byte-aligned, not final, so units concatenate. */
const UNIT = { ...SCRAPE_GZIP, chunkSize: 64 * 1024, finishFlush: zlibConstants.Z_SYNC_FLUSH }

/** A gzip header as zlib writes it at level 1 (no name, no time; XFL 4: fastest; OS 3: Unix). */
const GZIP_HEADER = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3)
/** An empty final block (fixed Huffman): ends the deflate stream. */
const FINAL_BLOCK = Uint8Array.of(0x03, 0x00)

const CRC_POLY = 0xedb88320

/** a(x) * b(x) modulo the CRC-32 polynomial (reflected), as zlib's multmodp. */
function multmodp (a: number, b: number): number {
  let m = 0x80000000
  let p = 0
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b
      if ((a & (m - 1)) === 0) break
    }
    m >>>= 1
    b = (b & 1) !== 0 ? (b >>> 1) ^ CRC_POLY : b >>> 1
  }
  return p >>> 0
}

/** x^(2^n) modulo the polynomial, n = 0..31. */
const X2N: number[] = (() => {
  const table = [0x40000000]
  let p = 0x40000000
  for (let n = 1; n < 32; n++) table.push(p = multmodp(p, p))
  return table
})()

/** x^(8 * length) modulo the polynomial: what a CRC is multiplied by to skip length bytes. */
function shiftFor (length: number): number {
  let p = 0x80000000
  let k = 3
  while (length > 0) {
    if (length % 2 === 1) p = multmodp(X2N[k & 31], p)
    length = Math.floor(length / 2)
    k++
  }
  return p
}

/** The CRC-32 of A then B from the CRC-32s of A and B and B's length (zlib's crc32_combine). */
export function crc32Combine (crcA: number, crcB: number, lengthB: number): number {
  return (multmodp(shiftFor(lengthB), crcA) ^ crcB) >>> 0
}

/** A segment as the last gzip scrape had it. */
interface Segment {
  /** Its lines in that scrape's arrays. */
  start: number
  end: number
  /** Its compressed unit, once its lines were the same at two scrapes running; with its text's CRC-32 and length. */
  deflated: Uint8Array | undefined
  crc: number
  length: number
}

/** The lines of a job: what a segment is compared with. */
type Lines = Pick<ScrapeJob, 'slots' | 'values' | 'codes'>

function sameValue (a: number, b: number): boolean {
  // NaN writes NaN however it is made; 0 and -0 both write 0
  return a === b || (Number.isNaN(a) && Number.isNaN(b))
}

export class GzipSegments {
  private segments = new Map<string, Segment>()
  private last: Lines | undefined

  /** Forget every kept segment (the label slots were handed out afresh). */
  clear (): void {
    this.segments = new Map()
    this.last = undefined
  }

  /** Bytes kept between scrapes: the compressed segments, and the last job's arrays. */
  kept (): { segments: number, lines: number } {
    let segments = 0
    for (const segment of this.segments.values()) segments += segment.deflated?.byteLength ?? 0
    const last = this.last
    const lines = last === undefined ? 0 : last.slots.byteLength + last.values.byteLength + last.codes.byteLength
    return { segments, lines }
  }

  /** The job's text, gzipped, in one ArrayBuffer of its own. */
  render (job: ScrapeJob, store: LabelStore): Uint8Array {
    const out: Uint8Array[] = [GZIP_HEADER]
    let crc = 0
    let size = 0
    const text = new TextChunks(true)
    const put = (unit: Uint8Array, unitCrc: number, length: number): void => {
      out.push(unit)
      crc = crc32Combine(crc, unitCrc, length)
      size += length
    }
    const compress = (piece: Buffer): void => {
      if (piece.length === 0) return
      out.push(deflateRawSync(piece, UNIT))
      crc = crc32(piece, crc)
      size += piece.length
    }
    const last = this.last
    const segments = new Map<string, Segment>()
    const { slots, values, codes } = job
    try {
      for (const part of job.parts) {
        if (typeof part === 'string') {
          text.write(part)
          if (text.full !== undefined) compress(text.take())
          continue
        }
        for (let i = part.start; i < part.end;) {
          let j = i + 1
          while (j < part.end && j - i < MAX_SEGMENT_LINES && (slots[j] === slots[j - 1] || !anchor(slots[j]))) j++
          const key = `${part.name} ${slots[i]}`
          const before = this.segments.get(key)
          // a key seen twice in one job (slots out of order) is written, not kept
          const same = before !== undefined && last !== undefined && !segments.has(key) && this.sameLines(last, before, job, i, j)
          if (same) {
            compress(text.end())
            if (before.deflated === undefined) {
              writeLines(text, part.name, job, store, i, j)
              const unit = text.end()
              before.crc = crc32(unit)
              before.length = unit.length
              const deflated = deflateRawSync(unit, UNIT)
              // its own memory, exactly its size (not a view of zlib's output buffer)
              before.deflated = new Uint8Array(deflated.length)
              before.deflated.set(deflated)
            }
            put(before.deflated, before.crc, before.length)
            segments.set(key, { start: i, end: j, deflated: before.deflated, crc: before.crc, length: before.length })
          } else {
            writeLines(text, part.name, job, store, i, j)
            if (text.full !== undefined) compress(text.take())
            if (!segments.has(key)) segments.set(key, { start: i, end: j, deflated: undefined, crc: 0, length: 0 })
          }
          i = j
        }
      }
      compress(text.end())
    } catch (err) {
      this.clear()
      throw err
    }
    this.segments = segments
    this.last = { slots, values, codes }
    out.push(FINAL_BLOCK)
    const trailer = new Uint8Array(8)
    const view = new DataView(trailer.buffer)
    view.setUint32(0, crc, true)
    view.setUint32(4, size % 0x100000000, true)
    out.push(trailer)
    return own(out)
  }

  private sameLines (last: Lines, before: Segment, job: ScrapeJob, start: number, end: number): boolean {
    if (before.end - before.start !== end - start) return false
    const { slots, values, codes } = job
    for (let i = start, k = before.start; i < end; i++, k++) {
      if (slots[i] !== last.slots[k] || codes[i] !== last.codes[k] || !sameValue(values[i], last.values[k])) return false
    }
    return true
  }
}

/** Pieces copied into one ArrayBuffer of their own, so that it can be transferred. */
export function own (pieces: Uint8Array[]): Uint8Array {
  const body = new Uint8Array(pieces.reduce((n, piece) => n + piece.length, 0))
  let at = 0
  for (const piece of pieces) {
    body.set(piece, at)
    at += piece.length
  }
  return body
}

/**
 * What the scrape worker runs for each job, in order: keeps the label
 * text by slot and the gzip segments, and writes the body (gzipped or
 * plain text) in an ArrayBuffer of its own.
 */
export class ScrapeWriter {
  private readonly store = new LabelStore()
  private readonly segments = new GzipSegments()

  write (job: ScrapeJob): Uint8Array {
    // a reset hands the slots out afresh: a kept segment's slots may now be other series
    if (job.reset) this.segments.clear()
    this.store.take(job)
    return job.gzip ? this.segments.render(job, this.store) : own([...renderJob(job, this.store)])
  }

  /** Bytes the gzip segments keep between scrapes. */
  kept (): { segments: number, lines: number } {
    return this.segments.kept()
  }
}
