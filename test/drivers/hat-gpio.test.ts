import { EventEmitter } from 'node:events'
import t from 'tap'
import { OpenDcreError } from '../../drivers/errors.js'
import { loadRpioGpio } from '../../drivers/hat/gpio.js'

const LOAD_FAILED = 'Raspberry Pi HAT support needs the rpio module, which could not be loaded: '

/** rpio's shape: one EventEmitter with the GPIO calls. Records them; `mock` makes init() behave as on a non-Pi. */
class FakeRpio extends EventEmitter {
  readonly LOW = 0
  readonly HIGH = 1
  readonly INPUT = 0
  readonly OUTPUT = 1
  readonly calls: unknown[][] = []
  levels = new Map<number, number | undefined>()
  failOn?: string

  constructor (private readonly behaviour: { mock?: boolean, initError?: Error } = {}) {
    super()
  }

  init (options?: unknown): void {
    this.calls.push(['init', options])
    if (this.behaviour.initError !== undefined) throw this.behaviour.initError
    if (this.behaviour.mock === true) this.emit('warn', 'Hardware auto-detect failed, running in raspi-3 mock mode')
  }

  open (pin: number, mode: number, option?: number): void {
    this.calls.push(option === undefined ? ['open', pin, mode] : ['open', pin, mode, option])
    if (this.failOn === 'open') throw new Error(`GPIO${pin} is currently in use by /sys/class/gpio`)
  }

  read (pin: number): number | undefined {
    this.calls.push(['read', pin])
    return this.levels.get(pin)
  }

  write (pin: number, value: number): void {
    this.calls.push(['write', pin, value])
  }
}

t.test('an importer that fails -> a clear unavailable error with the reason', async (t) => {
  const cause = new Error("Cannot find package 'rpio' imported from /app/drivers/hat/gpio.js")
  let err: unknown
  try {
    await loadRpioGpio(async () => { throw cause })
  } catch (e) { err = e }
  t.ok(err instanceof OpenDcreError)
  t.match(err, { code: 'unavailable', message: `${LOAD_FAILED}Cannot find package 'rpio' imported from /app/drivers/hat/gpio.js` })
  t.equal((err as Error).cause, cause, 'the import error is the cause')
})

t.test('the default importer, where rpio is absent or finds no Raspberry Pi, fails the same clear way', async (t) => {
  await t.rejects(loadRpioGpio(), { code: 'unavailable', message: /^Raspberry Pi HAT support needs / })
})

t.test('a native addon that will not load (wrong architecture) -> unavailable', async (t) => {
  await t.rejects(loadRpioGpio(async () => { throw new Error('rpio.node: wrong ELF class: ELFCLASS32') }), {
    code: 'unavailable',
    message: `${LOAD_FAILED}rpio.node: wrong ELF class: ELFCLASS32`
  })
})

t.test('a module without the rpio functions -> unavailable', async (t) => {
  await t.rejects(loadRpioGpio(async () => ({ default: {} })), { code: 'unavailable', message: `${LOAD_FAILED}the module has no init() function` })
})

t.test('init() failing (no access to /dev/gpiomem) -> unavailable', async (t) => {
  const rpio = new FakeRpio({ initError: new Error('Could not initialize bcm2835') })
  await t.rejects(loadRpioGpio(async () => ({ default: rpio })), { code: 'unavailable', message: `${LOAD_FAILED}Could not initialize bcm2835` })
  t.equal(rpio.listenerCount('warn'), 0, 'the warn listener is removed')
})

t.test('rpio falling back to mock mode (not a Raspberry Pi) -> unavailable, not a GPIO that reads low', async (t) => {
  const rpio = new FakeRpio({ mock: true })
  await t.rejects(loadRpioGpio(async () => ({ default: rpio })), {
    code: 'unavailable',
    message: 'Raspberry Pi HAT support needs Raspberry Pi GPIO hardware, which rpio could not find: Hardware auto-detect failed, running in raspi-3 mock mode'
  })
  t.equal(rpio.listenerCount('warn'), 0)
})

t.test('success: physical numbering over /dev/gpiomem; the Gpio calls map onto rpio', async (t) => {
  const rpio = new FakeRpio()
  const gpio = await loadRpioGpio(async () => ({ default: rpio }))
  t.same(rpio.calls, [['init', { gpiomem: true, mapping: 'physical' }]])
  t.equal(rpio.listenerCount('warn'), 0)

  rpio.levels.set(15, 1)
  gpio.setupInput(15)
  gpio.setupOutput(11, 0)
  gpio.setupOutput(19, 1)
  gpio.write(11, 1)
  t.equal(gpio.read(15), 1)
  t.equal(gpio.read(13), 0, 'anything but 1 reads as low')
  t.same(rpio.calls.slice(1), [
    ['open', 15, rpio.INPUT],
    ['open', 11, rpio.OUTPUT, rpio.LOW],
    ['open', 19, rpio.OUTPUT, rpio.HIGH],
    ['write', 11, rpio.HIGH],
    ['read', 15],
    ['read', 13]
  ])
  const started = Date.now()
  await gpio.sleepMs(5)
  t.ok(Date.now() - started >= 4, 'sleepMs waits')
})

t.test('a module namespace without a default export works too', async (t) => {
  const rpio = new FakeRpio()
  await loadRpioGpio(async () => rpio)
  t.same(rpio.calls, [['init', { gpiomem: true, mapping: 'physical' }]])
})

t.test('a pin operation rpio refuses -> unavailable naming the pin', async (t) => {
  const rpio = new FakeRpio()
  const gpio = await loadRpioGpio(async () => ({ default: rpio }))
  rpio.failOn = 'open'
  t.throws(() => gpio.setupOutput(13, 0), { code: 'unavailable', message: 'GPIO pin 13: set up as output failed: GPIO13 is currently in use by /sys/class/gpio' })
})
