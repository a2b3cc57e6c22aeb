/**
 * A sensor's recent readings, oldest overwritten first. Most readings are
 * one number under one key ({temperature_c: 41.5}); those are kept as
 * numbers in typed arrays, anything else as objects.
 *
 * At 5,000 BMCs (60,000 sensors, an hour at 15 s: 240 entries each) these
 * rings were the largest part of the heap: two Float64Arrays a sensor, 3.8 KB,
 * 230 MB in all. So each array starts narrow and widens only when a value
 * needs it: times as whole milliseconds after the ring's first (Uint32, 49
 * days of range, moved up when a time goes past it), values as one-byte
 * codes into a table of the distinct values seen while there are at most
 * 256 of them (an IPMI reading is one raw byte through a linear formula, so
 * a BMC's sensor never has more; measured at 1,000 BMCs: 7 KB a BMC less
 * than Float32/Float64 values), then as Float32 while every value is exactly
 * a float (whole degrees and RPM, halves and quarters are; 12.06 V is not),
 * else Float64. Object readings (a power status, an LED state) likewise:
 * one-byte codes into the distinct readings seen while at most 256 (240
 * bytes a ring instead of a 1,920-byte array of references). A reading is
 * given back exactly as pushed (an object: one equal to it, shallowly).
 */
export class HistoryRing {
  /** Milliseconds after `base` (Uint32) until a time does not fit; then absolute (Float64). */
  private times: Uint32Array | Float64Array
  private base = 0
  private numbers: Float32Array | Float64Array | undefined
  /** While at most 256 distinct values: each entry's value as its place in `table`. */
  private codes: Uint8Array | undefined
  private table: number[] | undefined
  private objects: unknown[] | undefined
  /** While a ring of object readings has seen at most 256 distinct ones (shallowly): each entry's as its place here (in `codes`). */
  private objectTable: unknown[] | undefined
  /** The one key of numeric readings. */
  private field: string | undefined
  private start = 0
  private count = 0

  constructor (readonly capacity: number) {
    this.times = new Uint32Array(capacity)
  }

  get length (): number {
    return this.count
  }

  push (timestamp: number, reading: unknown): void {
    const index = (this.start + this.count) % this.capacity
    this.storeTime(index, timestamp)
    if (this.count === this.capacity) this.start = (this.start + 1) % this.capacity
    else this.count++
    const number = this.objects === undefined && this.objectTable === undefined ? singleNumber(reading, this.field) : undefined
    if (number !== undefined) {
      this.field = number.field
      this.storeNumber(index, number.value)
      return
    }
    if (this.count === 1 && this.objects === undefined) {
      // a ring of objects (a power status, an LED state): coded while few are distinct
      this.numbers = undefined
      this.table = undefined
      this.objectTable = []
      this.codes = new Uint8Array(this.capacity)
    }
    if (this.objectTable !== undefined) {
      const codes = this.codes as Uint8Array
      const table = this.objectTable
      // most readings equal the one before
      const before = this.count > 1 ? codes[(index + this.capacity - 1) % this.capacity] : -1
      let code = before >= 0 && shallowEqual(table[before], reading) ? before : table.findIndex((o) => shallowEqual(o, reading))
      if (code < 0 && table.length < 256) code = table.push(reading) - 1
      if (code >= 0) {
        codes[index] = code
        return
      }
      // a 257th distinct reading: the readings themselves from now on
      const objects: unknown[] = new Array(this.capacity)
      for (let i = 0; i < this.count; i++) {
        const slot = (this.start + i) % this.capacity
        objects[slot] = table[codes[slot]]
      }
      this.objects = objects
      this.objectTable = undefined
      this.codes = undefined
    }
    const objects = this.toObjects()
    // a value that did not change (a power status, an LED) is kept once, referenced from each entry
    const previous = this.count > 1 ? objects[(index + this.capacity - 1) % this.capacity] : undefined
    objects[index] = previous !== undefined && shallowEqual(previous, reading) ? previous : reading
  }

  private storeNumber (index: number, value: number): void {
    if (this.numbers === undefined) {
      this.codes ??= new Uint8Array(this.capacity)
      this.table ??= []
      let code = this.table.findIndex((v) => Object.is(v, value))
      if (code < 0 && this.table.length < 256) code = this.table.push(value) - 1
      if (code >= 0) {
        this.codes[index] = code
        return
      }
      // a 257th distinct value: the values themselves from now on
      this.numbers = this.table.every((v) => Object.is(Math.fround(v), v)) ? new Float32Array(this.capacity) : new Float64Array(this.capacity)
      for (let i = 0; i < this.capacity; i++) this.numbers[i] = this.table[this.codes[i]] ?? 0
      this.codes = undefined
      this.table = undefined
    }
    if (this.numbers instanceof Float32Array && !Object.is(Math.fround(value), value) && !Number.isNaN(value)) this.numbers = Float64Array.from(this.numbers)
    this.numbers[index] = value
  }

  /** The number in slot `index` (numeric readings only). */
  private numberAt (index: number): number {
    if (this.codes !== undefined) return (this.table as number[])[this.codes[index]]
    return (this.numbers as Float32Array | Float64Array)[index]
  }

  private timeAt (index: number): number {
    return this.times instanceof Uint32Array ? this.base + this.times[index] : this.times[index]
  }

  /** Writes slot `index`'s time (the slot about to be written: it holds no entry that stays). */
  private storeTime (index: number, timestamp: number): void {
    if (this.times instanceof Float64Array) {
      this.times[index] = timestamp
      return
    }
    if (this.count === 0) this.base = timestamp
    let offset = timestamp - this.base
    if (offset > 0xffffffff && Number.isInteger(offset)) {
      // past 49 days: count from the oldest entry that stays instead
      const oldest = this.count === 0 ? timestamp : this.timeAt(this.count === this.capacity ? (this.start + 1) % this.capacity : this.start)
      if (timestamp - oldest <= 0xffffffff && oldest >= this.base) {
        const shift = oldest - this.base
        for (let i = 0; i < this.count; i++) {
          const slot = (this.start + i) % this.capacity
          if (slot !== index) this.times[slot] = Math.max(0, this.times[slot] - shift)
        }
        this.base = oldest
        offset = timestamp - oldest
      }
    }
    if (!Number.isInteger(offset) || offset < 0 || offset > 0xffffffff) {
      // a time before the first, fractional, or too far apart: absolute times from now on
      const absolute = new Float64Array(this.capacity)
      for (let i = 0; i < this.count; i++) {
        const slot = (this.start + i) % this.capacity
        absolute[slot] = this.timeAt(slot)
      }
      this.times = absolute
      absolute[index] = timestamp
      return
    }
    this.times[index] = offset
  }

  /** Entries from `since` (ms) on, oldest first. */
  entries (since = -Infinity): Array<{ timestamp: number, reading: unknown }> {
    const out: Array<{ timestamp: number, reading: unknown }> = []
    for (let i = 0; i < this.count; i++) {
      const index = (this.start + i) % this.capacity
      const timestamp = this.timeAt(index)
      if (timestamp < since) continue
      const reading = this.objectTable !== undefined
        ? this.objectTable[(this.codes as Uint8Array)[index]]
        : this.objects !== undefined ? this.objects[index] : { [this.field as string]: this.numberAt(index) }
      out.push({ timestamp, reading })
    }
    return out
  }

  /** Switches to objects, keeping what was stored as numbers. */
  private toObjects (): unknown[] {
    if (this.objects !== undefined) return this.objects
    const objects: unknown[] = new Array(this.capacity)
    if (this.numbers !== undefined || this.codes !== undefined) {
      for (let i = 0; i < this.count - 1; i++) {
        const index = (this.start + i) % this.capacity
        objects[index] = { [this.field as string]: this.numberAt(index) }
      }
    }
    this.numbers = undefined
    this.codes = undefined
    this.table = undefined
    this.objects = objects
    return objects
  }
}

function shallowEqual (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) if ((a as Record<string, unknown>)[k] !== (b as Record<string, unknown>)[k]) return false
  return true
}

function singleNumber (reading: unknown, field: string | undefined): { field: string, value: number } | undefined {
  if (reading === null || typeof reading !== 'object') return undefined
  const keys = Object.keys(reading)
  if (keys.length !== 1 || (field !== undefined && keys[0] !== field)) return undefined
  const value = (reading as Record<string, unknown>)[keys[0]]
  if (typeof value === 'number') return { field: keys[0], value }
  if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER)) return { field: keys[0], value: Number(value) }
  return undefined
}
