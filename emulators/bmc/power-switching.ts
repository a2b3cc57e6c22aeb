/**
 * How many emulated BMCs are switching on at once. A BMC with
 * chassis.power_on_delay_ms is switching from its Chassis Control power-up
 * until its chassis reports on; a fleet shares one recorder, so a bench or a
 * test can check that a bulk power-on never had more than K boards switching
 * at any moment. The count can only rise when a switch starts, so taking it
 * at every start gives the exact maximum. Memory: one end time per board
 * switching now, and the power-ups not yet taken by drain() (at most
 * MAX_UNDRAINED).
 */

/** Power-ups kept for drain() at most; older ones are dropped (counted in `undrained_dropped`). */
export const MAX_UNDRAINED = 50_000

export class SwitchingRecorder {
  /** End times (ms) of the switches under way, in no order. */
  private ends: number[] = []
  /** [start, end] of each power-up since the last drain(). */
  private undrained: Array<[number, number]> = []
  /** The most switching at once since the last reset. */
  max = 0
  /** Power-ups started since the last reset. */
  started_total = 0
  /** Power-ups dropped from the undrained list because nobody drained it. */
  undrained_dropped = 0

  /** A power-up at `now` that reports on at `until`. */
  started (now: number, until: number): void {
    this.ends = this.ends.filter((end) => end > now)
    this.ends.push(until)
    this.started_total++
    if (this.ends.length > this.max) this.max = this.ends.length
    if (this.undrained.length >= MAX_UNDRAINED) {
      this.undrained.shift()
      this.undrained_dropped++
    }
    this.undrained.push([now, until])
  }

  /**
   * The [start, end] (epoch ms) of every power-up since the last call. Fleets
   * in several processes each report theirs; merged, they give the exact most
   * switching at once across the processes (maxOverlap).
   */
  drain (): Array<[number, number]> {
    const out = this.undrained
    this.undrained = []
    return out
  }

  /** Boards switching at `now`. */
  switching (now: number = Date.now()): number {
    this.ends = this.ends.filter((end) => end > now)
    return this.ends.length
  }

  reset (): void {
    this.ends = []
    this.undrained = []
    this.max = 0
    this.started_total = 0
  }
}

/** The most intervals [start, end) open at one moment (an end at the same moment as a start closes first). */
export function maxOverlap (intervals: Array<[number, number]>): number {
  const events: Array<[number, number]> = []
  for (const [start, end] of intervals) events.push([start, 1], [end, -1])
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let open = 0
  let max = 0
  for (const [, step] of events) {
    open += step
    if (open > max) max = open
  }
  return max
}
