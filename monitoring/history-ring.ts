/**
 * A sensor's recent readings, oldest overwritten first. Most readings are
 * one number under one key ({temperature_c: 41.5}); those are kept as
 * numbers in typed arrays (16 bytes an entry), anything else as objects.
 */
export class HistoryRing {
  private readonly times: Float64Array
  private numbers: Float64Array | undefined
  private objects: unknown[] | undefined
  /** The one key of numeric readings. */
  private field: string | undefined
  private start = 0
  private count = 0

  constructor (readonly capacity: number) {
    this.times = new Float64Array(capacity)
  }

  get length (): number {
    return this.count
  }

  push (timestamp: number, reading: unknown): void {
    const index = (this.start + this.count) % this.capacity
    if (this.count === this.capacity) this.start = (this.start + 1) % this.capacity
    else this.count++
    this.times[index] = timestamp
    const number = this.objects === undefined ? singleNumber(reading, this.field) : undefined
    if (number !== undefined) {
      this.field = number.field
      this.numbers ??= new Float64Array(this.capacity)
      this.numbers[index] = number.value
      return
    }
    const objects = this.toObjects()
    // a value that did not change (a power status, an LED) is kept once, referenced from each entry
    const previous = this.count > 1 ? objects[(index + this.capacity - 1) % this.capacity] : undefined
    objects[index] = previous !== undefined && shallowEqual(previous, reading) ? previous : reading
  }

  /** Entries from `since` (ms) on, oldest first. */
  entries (since = -Infinity): Array<{ timestamp: number, reading: unknown }> {
    const out: Array<{ timestamp: number, reading: unknown }> = []
    for (let i = 0; i < this.count; i++) {
      const index = (this.start + i) % this.capacity
      const timestamp = this.times[index]
      if (timestamp < since) continue
      const reading = this.objects !== undefined ? this.objects[index] : { [this.field as string]: (this.numbers as Float64Array)[index] }
      out.push({ timestamp, reading })
    }
    return out
  }

  /** Switches to objects, keeping what was stored as numbers. */
  private toObjects (): unknown[] {
    if (this.objects !== undefined) return this.objects
    const objects: unknown[] = new Array(this.capacity)
    if (this.numbers !== undefined) {
      for (let i = 0; i < this.count - 1; i++) {
        const index = (this.start + i) % this.capacity
        objects[index] = { [this.field as string]: this.numbers[index] }
      }
    }
    this.numbers = undefined
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
