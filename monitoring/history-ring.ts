/**
 * A sensor's recent readings, oldest overwritten first. Most readings are
 * one number under one key ({temperature_c: 41.5}); those are kept as
 * numbers in typed arrays, anything else as objects.
 *
 * At 5,000 BMCs (60,000 sensors, an hour at 15 s: 240 entries each) these
 * rings were the largest part of the heap: two Float64Arrays a sensor, 3.8 KB,
 * 230 MB in all. So a ring keeps 3 bytes an entry in one Uint8Array, grown
 * (doubling) as entries come rather than sized for the hour up front:
 *
 * - its time as whole milliseconds after the entry before, 2 bytes (up to
 *   65.5 s: a poll interval); a time that does not fit (a board away for
 *   minutes, a clock set back, a fractional time) is marked and kept
 *   absolute in a small map beside, so every time is given back exactly;
 *   a ring whose times mostly do not fit (polled every few minutes) keeps
 *   them all absolute (Float64) instead;
 * - its value as a one-byte code into a table of the distinct values seen
 *   while there are at most 256 of them (an IPMI reading is one raw byte
 *   through a linear formula, so a BMC's sensor never has more), then as
 *   Float32 while every value is exactly a float (whole degrees and RPM,
 *   halves and quarters are; 12.06 V is not), else Float64. Object readings
 *   (a power status, an LED state) likewise: one-byte codes into the
 *   distinct readings seen while at most 256, then the objects themselves.
 *
 * A reading is given back exactly as pushed (an object: one equal to it,
 * shallowly).
 */

/** A time delta that does not fit in 2 bytes: the slot's time is in `far`, absolute. */
const FAR = 0xffff
/** Slots a ring starts with; it doubles up to its capacity. */
const FIRST_SLOTS = 8

export class HistoryRing {
  /** Per slot: its time after the slot before it (2 bytes, little-endian) at 2 * slot; from 2 * `slots` on, its value's code (1 byte). */
  private bytes: Uint8Array
  /** Slots `bytes` has room for. */
  private slots: number
  /** The oldest entry's time, and the newest's. */
  private base = 0
  private last = 0
  /** Absolute times of the slots whose time after the one before did not fit (FAR). */
  private far: Map<number, number> | undefined
  /** Every slot's time, absolute, once too many did not fit (the 2-byte times then unused). */
  private absolute: Float64Array | undefined
  private numbers: Float32Array | Float64Array | undefined
  /** While at most 256 distinct values: each entry's value as its place here (its code in `bytes`). */
  private table: number[] | undefined
  private objects: unknown[] | undefined
  /** While a ring of object readings has seen at most 256 distinct ones (shallowly): each entry's as its place here (its code in `bytes`). */
  private objectTable: unknown[] | undefined
  /** The one key of numeric readings. */
  private field: string | undefined
  private start = 0
  private count = 0

  constructor (readonly capacity: number) {
    this.slots = Math.min(capacity, FIRST_SLOTS)
    this.bytes = new Uint8Array(this.slots * 3)
  }

  get length (): number {
    return this.count
  }

  push (timestamp: number, reading: unknown): void {
    const index = (this.start + this.count) % this.capacity
    if (index >= this.slots) this.grow()
    this.storeTime(index, timestamp)
    if (this.count === this.capacity) this.start = (this.start + 1) % this.capacity
    else this.count++
    const number = this.objects === undefined && this.objectTable === undefined ? this.numberOf(reading) : undefined
    if (number !== undefined) {
      this.storeNumber(index, number)
      return
    }
    if (this.count === 1 && this.objects === undefined) {
      // a ring of objects (a power status, an LED state): coded while few are distinct
      this.numbers = undefined
      this.table = undefined
      this.objectTable = []
    }
    if (this.objectTable !== undefined) {
      const table = this.objectTable
      // most readings equal the one before
      const before = this.count > 1 ? this.codeAt((index + this.capacity - 1) % this.capacity) : -1
      let code = before >= 0 && shallowEqual(table[before], reading) ? before : table.findIndex((o) => shallowEqual(o, reading))
      if (code < 0 && table.length < 256) {
        // a new array of exactly the length needed (push leaves room for 16 more: ~100 bytes a ring)
        this.objectTable = table.concat([sharedShape(reading)])
        code = table.length
      }
      if (code >= 0) {
        this.bytes[2 * this.slots + index] = code
        return
      }
      // a 257th distinct reading: the readings themselves from now on
      const objects: unknown[] = new Array(this.capacity)
      for (let i = 0; i < this.count - 1; i++) {
        const slot = (this.start + i) % this.capacity
        objects[slot] = table[this.codeAt(slot)]
      }
      this.objects = objects
      this.objectTable = undefined
    }
    const objects = this.toObjects()
    // a value that did not change (a power status, an LED) is kept once, referenced from each entry
    const previous = this.count > 1 ? objects[(index + this.capacity - 1) % this.capacity] : undefined
    objects[index] = previous !== undefined && shallowEqual(previous, reading) ? previous : reading
  }

  /** Doubles the slots (up to the capacity). Only while the ring is not full, so its entries are slots 0 to count - 1. */
  private grow (): void {
    const slots = Math.min(this.capacity, this.slots * 2)
    const bytes = new Uint8Array(slots * 3)
    bytes.set(this.bytes.subarray(0, 2 * this.count))
    bytes.set(this.bytes.subarray(2 * this.slots, 2 * this.slots + this.count), 2 * slots)
    this.bytes = bytes
    this.slots = slots
  }

  private codeAt (slot: number): number {
    return this.bytes[2 * this.slots + slot]
  }

  /** The reading as one number (see singleNumber), its key then the ring's. */
  private numberOf (reading: unknown): number | undefined {
    const value = singleNumber(reading, this.field)
    if (value !== undefined && this.field === undefined) this.field = onlyKey(reading as object)
    return value
  }

  private storeNumber (index: number, value: number): void {
    if (this.numbers === undefined) {
      const table = this.table ?? []
      let code = -1
      // a loop, not findIndex: no closure per reading (every poll comes here)
      for (let i = 0; i < table.length; i++) {
        if (Object.is(table[i], value)) {
          code = i
          break
        }
      }
      if (code < 0 && table.length < 256) {
        // a new array of exactly the length needed (push leaves room for 16 more: ~100 bytes a ring)
        this.table = table.concat(value)
        code = table.length
      }
      if (code >= 0) {
        this.bytes[2 * this.slots + index] = code
        return
      }
      // a 257th distinct value: the values themselves from now on
      this.numbers = table.every((v) => Object.is(Math.fround(v), v)) ? new Float32Array(this.capacity) : new Float64Array(this.capacity)
      for (let i = 0; i < this.count - 1; i++) {
        const slot = (this.start + i) % this.capacity
        this.numbers[slot] = table[this.codeAt(slot)]
      }
      this.table = undefined
    }
    if (this.numbers instanceof Float32Array && !Object.is(Math.fround(value), value) && !Number.isNaN(value)) this.numbers = Float64Array.from(this.numbers)
    this.numbers[index] = value
  }

  /** The number in slot `index` (numeric readings only). */
  private numberAt (index: number): number {
    if (this.table !== undefined) return this.table[this.codeAt(index)]
    return (this.numbers as Float32Array | Float64Array)[index]
  }

  private deltaAt (slot: number): number {
    return this.bytes[2 * slot] | this.bytes[2 * slot + 1] << 8
  }

  /** Writes slot `index`'s time (the slot about to be written: the oldest entry's when the ring is full). */
  private storeTime (index: number, timestamp: number): void {
    if (this.absolute !== undefined) {
      this.absolute[index] = timestamp
      return
    }
    this.far?.delete(index)
    if (this.count === 0) {
      this.base = timestamp
    } else if (this.count === this.capacity) {
      // the oldest entry goes: the next one is the oldest now
      const next = (this.start + 1) % this.capacity
      if (next === index) this.base = timestamp
      else {
        const delta = this.deltaAt(next)
        this.base = delta === FAR ? (this.far as Map<number, number>).get(next) as number : this.base + delta
      }
    }
    let delta = timestamp - this.last
    if (this.count === 0) delta = 0
    else if (!(Number.isInteger(delta) && delta >= 0 && delta < FAR && this.last + delta === timestamp)) {
      delta = FAR
      this.far ??= new Map()
      this.far.set(index, timestamp)
    }
    if (this.far?.size === 0) this.far = undefined
    this.bytes[2 * index] = delta & 0xff
    this.bytes[2 * index + 1] = delta >> 8
    this.last = timestamp
    // a map entry costs several times 8 bytes: past a quarter of the ring, absolute times for all
    if (this.far !== undefined && this.far.size > 4 && this.far.size * 4 > this.capacity) this.toAbsolute(index)
  }

  /** Every entry's time, absolute, from now on (`index`: the slot being written, counted in already). */
  private toAbsolute (index: number): void {
    const absolute = new Float64Array(this.capacity)
    const count = this.count === this.capacity ? this.count : this.count + 1
    const start = this.count === this.capacity ? (this.start + 1) % this.capacity : this.start
    let timestamp = this.base
    for (let i = 0; i < count; i++) {
      const slot = (start + i) % this.capacity
      if (i > 0) {
        const delta = this.deltaAt(slot)
        timestamp = delta === FAR ? (this.far as Map<number, number>).get(slot) as number : timestamp + delta
      }
      absolute[slot] = timestamp
    }
    this.absolute = absolute
    this.far = undefined
  }

  private timeAt (slot: number, before: number, first: boolean): number {
    if (this.absolute !== undefined) return this.absolute[slot]
    if (first) return this.base
    const delta = this.deltaAt(slot)
    return delta === FAR ? (this.far as Map<number, number>).get(slot) as number : before + delta
  }

  /** Entries from `since` (ms) on, oldest first. */
  entries (since = -Infinity): Array<{ timestamp: number, reading: unknown }> {
    const out: Array<{ timestamp: number, reading: unknown }> = []
    let timestamp = this.base
    for (let i = 0; i < this.count; i++) {
      const index = (this.start + i) % this.capacity
      timestamp = this.timeAt(index, timestamp, i === 0)
      if (timestamp < since) continue
      const reading = this.objectTable !== undefined
        ? this.objectTable[this.codeAt(index)]
        : this.objects !== undefined ? this.objects[index] : { [this.field as string]: this.numberAt(index) }
      out.push({ timestamp, reading })
    }
    return out
  }

  /** Switches to objects, keeping what was stored as numbers (all but the entry being written). */
  private toObjects (): unknown[] {
    if (this.objects !== undefined) return this.objects
    const objects: unknown[] = new Array(this.capacity)
    if (this.numbers !== undefined || this.table !== undefined) {
      for (let i = 0; i < this.count - 1; i++) {
        const index = (this.start + i) % this.capacity
        objects[index] = { [this.field as string]: this.numberAt(index) }
      }
    }
    this.numbers = undefined
    this.table = undefined
    this.objects = objects
    return objects
  }
}

/**
 * A copy of an object reading made key by key from {}, so that readings with
 * the same keys share one V8 shape: a reading made as a spread plus fields
 * ({...fixed, power_status}) has a shape of its own, ~300 bytes each.
 */
function sharedShape (reading: unknown): unknown {
  if (reading === null || typeof reading !== 'object' || Array.isArray(reading) || Object.getPrototypeOf(reading) !== Object.prototype) return reading
  const keys = Object.keys(reading)
  if (keys.includes('__proto__')) return reading
  const copy: Record<string, unknown> = {}
  for (const key of keys) copy[key] = (reading as Record<string, unknown>)[key]
  return copy
}

function shallowEqual (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) if ((a as Record<string, unknown>)[k] !== (b as Record<string, unknown>)[k]) return false
  return true
}

/**
 * The one own key of a reading, if it has exactly one (a for-in over its
 * keys: Object.keys would make an array per reading).
 */
function onlyKey (reading: object): string | undefined {
  let key: string | undefined
  for (const k in reading) {
    if (!Object.hasOwn(reading, k)) continue
    if (key !== undefined) return undefined
    key = k
  }
  return key
}

/** A reading that is one number under one key (the ring's key, once it has one), as that number. */
function singleNumber (reading: unknown, field: string | undefined): number | undefined {
  if (reading === null || typeof reading !== 'object') return undefined
  const key = onlyKey(reading)
  if (key === undefined || (field !== undefined && key !== field)) return undefined
  const value = (reading as Record<string, unknown>)[key]
  if (typeof value === 'number') return value
  if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER)) return Number(value)
  return undefined
}
