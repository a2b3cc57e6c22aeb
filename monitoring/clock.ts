/** Wall-clock time and timers, injectable: tests pass a fake and never sleep. */
export interface PollerClock {
  /** Milliseconds since the epoch (readings carry wall-clock timestamps). */
  now: () => number
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

export const wallClock: PollerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms)
    // a poll due never keeps the process alive by itself
    timer.unref()
    return timer
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>)
}
