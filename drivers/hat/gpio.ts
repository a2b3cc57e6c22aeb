import { setTimeout as sleep } from 'node:timers/promises'
import type { Rpio } from 'rpio'
import { OpenDcreError } from '../errors.js'

export type Level = 0 | 1

/**
 * What the SIG60 procedures need of the Raspberry Pi's GPIO (docs/protocol.md §9.1),
 * pins in BOARD (physical header) numbering, plus the clock they wait on. The
 * procedures only ever see this, so tests pass a recording fake and never
 * sleep; production uses loadRpioGpio().
 */
export interface Gpio {
  setupInput: (pin: number) => void
  /** Make `pin` an output, driving `initial` from the moment it is enabled. */
  setupOutput: (pin: number, initial: Level) => void
  read: (pin: number) => Level
  write: (pin: number, value: Level) => void
  sleepMs: (ms: number) => Promise<void>
}

/** Loads the rpio module; injected so tests can pass one that fails. */
type RpioImporter = () => Promise<unknown>

const importRpio: RpioImporter = async () => await import('rpio')

/**
 * GPIO through rpio (an optional dependency: a native addon that is only
 * built where it can be). rpio is set up for physical pin numbering and
 * /dev/gpiomem access, so the service needs membership of the `gpio` group,
 * not root. Rejects with an 'unavailable' error when the module cannot be
 * loaded or initialised, or finds no Raspberry Pi (rpio would silently fall
 * back to mock mode there, and every pin would read low).
 */
export async function loadRpioGpio (importer: RpioImporter = importRpio): Promise<Gpio> {
  let rpio: Rpio
  let mockReason: string | undefined
  try {
    rpio = rpioFrom(await importer())
    const onWarn = (message: string): void => { mockReason = message }
    rpio.on('warn', onWarn)
    try {
      rpio.init({ gpiomem: true, mapping: 'physical' })
    } finally {
      rpio.removeListener('warn', onWarn)
    }
  } catch (err) {
    throw new OpenDcreError('unavailable', `Raspberry Pi HAT support needs the rpio module, which could not be loaded: ${reasonOf(err)}`, { cause: err })
  }
  if (mockReason !== undefined) {
    throw new OpenDcreError('unavailable', `Raspberry Pi HAT support needs Raspberry Pi GPIO hardware, which rpio could not find: ${mockReason}`)
  }
  return rpioGpio(rpio)
}

/** An ESM import of the CommonJS module: the instance is the default export. */
function rpioFrom (mod: unknown): Rpio {
  const candidate = (mod as { default?: unknown }).default ?? mod
  const rpio = candidate as Partial<Rpio>
  for (const fn of ['init', 'open', 'read', 'write', 'on', 'removeListener'] as const) {
    if (typeof rpio[fn] !== 'function') throw new Error(`the module has no ${fn}() function`)
  }
  return rpio as Rpio
}

function rpioGpio (rpio: Rpio): Gpio {
  return {
    setupInput: (pin) => pinOp('set up as input', pin, () => rpio.open(pin, rpio.INPUT)),
    setupOutput: (pin, initial) => pinOp('set up as output', pin, () => rpio.open(pin, rpio.OUTPUT, initial === 1 ? rpio.HIGH : rpio.LOW)),
    read: (pin) => pinOp('read', pin, () => (rpio.read(pin) === 1 ? 1 : 0)),
    write: (pin, value) => pinOp('write', pin, () => rpio.write(pin, value === 1 ? rpio.HIGH : rpio.LOW)),
    sleepMs: async (ms) => { await sleep(ms) }
  }
}

function pinOp<T> (op: string, pin: number, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw new OpenDcreError('unavailable', `GPIO pin ${pin}: ${op} failed: ${reasonOf(err)}`, { cause: err })
  }
}

function reasonOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
