/**
 * Remembered verifications (Basic, JWT): a bounded map from a key (a keyed
 * hash of the credentials, never the credentials) to a value and its expiry.
 * Insertion order is age order, so the oldest entry goes first when full.
 */
export class VerificationCache<T> {
  private readonly entries = new Map<string, { value: T, expiresAt: number }>()

  constructor (private readonly max: number) {}

  get (key: string, now: number): T | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      this.entries.delete(key)
      return undefined
    }
    return entry.value
  }

  set (key: string, value: T, expiresAt: number): void {
    this.entries.delete(key)
    if (this.max <= 0) return // max 0: remember nothing
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) this.entries.delete(oldest.value)
    }
    this.entries.set(key, { value, expiresAt })
  }

  get size (): number {
    return this.entries.size
  }
}
