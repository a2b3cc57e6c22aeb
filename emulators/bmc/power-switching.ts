/**
 * How many emulated BMCs are switching on at once. A BMC with
 * chassis.power_on_delay_ms is switching from its Chassis Control power-up
 * until its chassis reports on; a fleet shares one recorder, so a bench or a
 * test can check that a bulk power-on never had more than K boards switching
 * at any moment. The count can only rise when a switch starts, so taking it
 * at every start gives the exact maximum. Memory: one end time per board
 * switching now.
 */
export class SwitchingRecorder {
  /** End times (ms) of the switches under way, in no order. */
  private ends: number[] = []
  /** The most switching at once since the last reset. */
  max = 0
  /** Power-ups started since the last reset. */
  started_total = 0

  /** A power-up at `now` that reports on at `until`. */
  started (now: number, until: number): void {
    this.ends = this.ends.filter((end) => end > now)
    this.ends.push(until)
    this.started_total++
    if (this.ends.length > this.max) this.max = this.ends.length
  }

  /** Boards switching at `now`. */
  switching (now: number = Date.now()): number {
    this.ends = this.ends.filter((end) => end > now)
    return this.ends.length
  }

  reset (): void {
    this.ends = []
    this.max = 0
    this.started_total = 0
  }
}
