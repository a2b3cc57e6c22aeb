import t from 'tap'
import { OpenDcreError } from '../../drivers/errors.js'
import type { DriverLogger } from '../../drivers/logger.js'
import type { Gpio, Level } from '../../drivers/hat/gpio.js'
import { HatModem, type ClosableModemSerial } from '../../drivers/hat/hat-modem.js'
import {
  BIT_RATES_BELOW_10_MHZ,
  BIT_RATES_FROM_10_MHZ,
  DEFAULT_MODEM_CONFIG,
  FREQUENCY_PAIRS,
  PIN,
  configure,
  decodeReg0,
  decodeReg1,
  decodeRegisters,
  encodeReg0,
  encodeReg1,
  encodeRegisters,
  initializeHat,
  readConfiguration,
  wake,
  type PlcConfig
} from '../../drivers/hat/sig60-modem.js'

// ---- fakes --------------------------------------------------------------

const PIN_NAMES = new Map<number, string>(Object.entries(PIN).map(([name, pin]) => [pin, name]))
const pinName = (pin: number): string => PIN_NAMES.get(pin) ?? `P${pin}`
const hex = (bytes: Iterable<number>): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ')

/**
 * The Raspberry Pi side of the HAT: records every pin operation and sleep,
 * in order, in `ops` (shared with FakeModemSerial), keeps pin modes and
 * driven levels, and plays INH from a script (its last value repeats). The
 * clock is fake: sleeps add to `now` and resolve at once.
 */
class FakeHat implements Gpio {
  readonly ops: string[] = []
  now = 0
  private readonly modes = new Map<number, 'in' | 'out'>()
  private readonly levels = new Map<number, Level>()

  constructor (private readonly inhScript: Level[] = [1]) {}

  setupInput (pin: number): void {
    this.ops.push(`in ${pinName(pin)}`)
    this.modes.set(pin, 'in')
  }

  setupOutput (pin: number, initial: Level): void {
    this.ops.push(`out ${pinName(pin)}=${initial}`)
    this.modes.set(pin, 'out')
    this.levels.set(pin, initial)
  }

  read (pin: number): Level {
    let level: Level = 0
    if (pin === PIN.INH) level = (this.inhScript.length > 1 ? this.inhScript.shift() : this.inhScript[0]) ?? 0
    this.ops.push(`read ${pinName(pin)}=${level}`)
    return level
  }

  write (pin: number, value: Level): void {
    this.ops.push(`write ${pinName(pin)}=${value}`)
    this.levels.set(pin, value)
  }

  async sleepMs (ms: number): Promise<void> {
    this.ops.push(`sleep ${ms}`)
    this.now += ms
  }

  /** The level an output pin drives; undefined for an input. */
  driven (pin: number): Level | undefined {
    return this.modes.get(pin) === 'out' ? this.levels.get(pin) : undefined
  }
}

/**
 * The modem's UART: while the Pi drives CMD low it obeys the register
 * commands (0x05 v / 0x15 v write reg0 / reg1; 0x0D / 0x1D answer them);
 * bytes sent otherwise are kept in `stray`. `silent` answers nothing.
 */
class FakeModemSerial implements ClosableModemSerial {
  reg0 = 0
  reg1 = 0
  readonly stray: number[] = []
  /** FREQ as driven when each register was written. */
  readonly freqAtWrite: Array<Level | undefined> = []
  silent = false
  closed = 0
  private answers: number[] = []
  private expect?: 'reg0' | 'reg1'

  constructor (private readonly hat: FakeHat, registers?: [number, number]) {
    if (registers !== undefined) [this.reg0, this.reg1] = registers
  }

  async write (bytes: Buffer): Promise<void> {
    this.hat.ops.push(`tx ${hex(bytes)}`)
    for (const byte of bytes) {
      if (this.hat.driven(PIN.CMD) !== 0) {
        this.stray.push(byte)
      } else if (this.expect !== undefined) {
        this[this.expect] = byte
        this.freqAtWrite.push(this.hat.driven(PIN.FREQ))
        this.expect = undefined
      } else if (byte === 0x05) {
        this.expect = 'reg0'
      } else if (byte === 0x15) {
        this.expect = 'reg1'
      } else if (byte === 0x0d) {
        if (!this.silent) this.answers.push(this.reg0)
      } else if (byte === 0x1d) {
        if (!this.silent) this.answers.push(this.reg1)
      } else {
        this.stray.push(byte)
      }
    }
  }

  async read (n: number): Promise<Buffer> {
    const bytes = this.answers.splice(0, n)
    this.hat.ops.push(`rx ${hex(bytes)}`)
    return Buffer.from(bytes)
  }

  async flush (): Promise<void> {
    this.hat.ops.push('flush')
    this.answers = []
  }

  async close (): Promise<void> {
    this.closed++
  }
}

const WITH_EVERY_FLAG: PlcConfig = {
  frequency_number: 0,
  remote_loopback: true,
  interference_hopping: true,
  long_wum: false,
  auto_sleep: false,
  auto_wum: true,
  loopback_enabled: true,
  interference_detected: true,
  f0: 1.75,
  f1: 4.5,
  bit_rate: 9600
}

// ---- register codecs (docs/protocol.md §9.2) --------------------------------

t.test('register golden vectors (docs/protocol.md §9.2)', async (t) => {
  const table: Array<{ name: string, hex: string, expected: PlcConfig }> = [
    // reg0 = freq 1 | long_wum 0x08 | NOT auto_wum 0x20 | NOT loopback_enabled 0x40; reg1 = rate 2 (115200 at 10.5 MHz) << 4 | pair 9
    { name: 'the default configuration', hex: '69 29', expected: { ...DEFAULT_MODEM_CONFIG } },
    // reg0 = remote_loopback 0x02 | hopping 0x04 | NOT auto_sleep 0x10 | interference 0x80; reg1 = rate 2 (9600 at 1.75 MHz) << 4 | pair 0
    { name: 'every flag the other way, frequency 0', hex: '96 20', expected: WITH_EVERY_FLAG },
    // all register bits clear: f0 of pair 0, first rate of the low list
    { name: 'all zero', hex: '00 00', expected: { frequency_number: 0, remote_loopback: false, interference_hopping: false, long_wum: false, auto_sleep: true, auto_wum: true, loopback_enabled: true, interference_detected: false, f0: 1.75, f1: 4.5, bit_rate: 38400 } },
    // pair 15 (5.5, 6.5), rate 3; frequency 1 -> 6.5 MHz -> low list -> 19200
    { name: 'last pair, last rate', hex: '7f 3f', expected: { frequency_number: 1, remote_loopback: true, interference_hopping: true, long_wum: true, auto_sleep: false, auto_wum: false, loopback_enabled: false, interference_detected: false, f0: 5.5, f1: 6.5, bit_rate: 19200 } },
    // pair 8 (10.5, 13.0) at frequency 0 -> 10.5 MHz -> high list, rate 2 -> 115200
    { name: 'f0 above 10 MHz selects the high list', hex: '08 28', expected: { frequency_number: 0, remote_loopback: false, interference_hopping: false, long_wum: true, auto_sleep: true, auto_wum: true, loopback_enabled: true, interference_detected: false, f0: 10.5, f1: 13, bit_rate: 115200 } }
  ]
  for (const row of table) {
    const [reg0, reg1] = row.hex.split(' ').map((b) => parseInt(b, 16))
    t.same(decodeRegisters(reg0, reg1), row.expected, `${row.name}: decode ${row.hex}`)
    t.equal(hex(encodeRegisters(row.expected)), row.hex, `${row.name}: encode -> ${row.hex}`)
  }
})

t.test('reg0 decodes and re-encodes every byte', async (t) => {
  for (let byte = 0; byte <= 0xff; byte++) {
    const fields = decodeReg0(byte)
    if (encodeReg0(fields) !== byte) t.fail(`reg0 ${byte.toString(16)} did not round-trip`)
  }
  t.same(decodeReg0(0x10), { ...decodeReg0(0), auto_sleep: false }, 'bit 4 is NOT auto_sleep')
  t.same(decodeReg0(0x20), { ...decodeReg0(0), auto_wum: false }, 'bit 5 is NOT auto_wum')
  t.same(decodeReg0(0x40), { ...decodeReg0(0), loopback_enabled: false }, 'bit 6 is NOT loopback_enabled')
  t.same(decodeReg0(0x80), { ...decodeReg0(0), interference_detected: true }, 'bit 7 is interference_detected')
})

t.test('reg1 round-trips every frequency pair and bit rate, at both frequency numbers', async (t) => {
  let rows = 0
  for (const [pairIndex, [f0, f1]] of FREQUENCY_PAIRS.entries()) {
    for (const frequencyNumber of [0, 1] as const) {
      const inUse = frequencyNumber === 0 ? f0 : f1
      const rates = inUse < 10 ? BIT_RATES_BELOW_10_MHZ : BIT_RATES_FROM_10_MHZ
      for (const [rateIndex, bitRate] of rates.entries()) {
        const byte = rateIndex << 4 | pairIndex
        const config = { frequency_number: frequencyNumber, f0, f1, bit_rate: bitRate }
        t.equal(encodeReg1(config), byte, `(${f0}, ${f1}) at f${frequencyNumber}, ${bitRate} bps -> 0x${byte.toString(16)}`)
        t.same(decodeReg1(byte, frequencyNumber), { f0, f1, bit_rate: bitRate }, `0x${byte.toString(16)} at f${frequencyNumber} -> (${f0}, ${f1}), ${bitRate}`)
        rows++
      }
    }
  }
  t.equal(rows, 16 * 2 * 4, 'every combination')
  t.equal(FREQUENCY_PAIRS.length, 16)
})

t.test('reg1 bits 6-7 are ignored, as the reference does', async (t) => {
  t.same(decodeReg1(0xe9, 1), decodeReg1(0x29, 1))
})

t.test('a configuration the registers cannot hold throws', async (t) => {
  const table: Array<{ name: string, config: Partial<PlcConfig>, message: RegExp }> = [
    { name: 'the pair reversed', config: { f0: 10.5, f1: 5.5 }, message: /frequency pair \(10\.5, 5\.5\) MHz is not one the SIG60 offers/ },
    { name: 'an unknown frequency', config: { f0: 5.5, f1: 11 }, message: /frequency pair \(5\.5, 11\)/ },
    { name: '115200 below 10 MHz', config: { frequency_number: 0 }, message: /bit rate 115200 is not available at 5\.5 MHz \(one of 38400, 57600, 9600, 19200\)/ },
    { name: '9600 from 10 MHz', config: { bit_rate: 9600 }, message: /bit rate 9600 is not available at 10\.5 MHz \(one of 38400, 57600, 115200, 19200\)/ },
    { name: 'a rate no list has', config: { bit_rate: 12345 }, message: /bit rate 12345/ },
    { name: 'frequency number 2', config: { frequency_number: 2 as 0 }, message: /frequency_number must be 0 or 1, not 2/ }
  ]
  for (const row of table) {
    t.throws(() => encodeRegisters({ ...DEFAULT_MODEM_CONFIG, ...row.config }), { code: 'invalid-argument', message: row.message }, row.name)
  }
  t.throws(() => decodeReg0(256), RangeError)
  t.throws(() => decodeReg1(-1, 0), RangeError)
})

t.test('DEFAULT_MODEM_CONFIG is what §9 lists, and frozen', async (t) => {
  t.same(DEFAULT_MODEM_CONFIG, {
    frequency_number: 1,
    remote_loopback: false,
    interference_hopping: false,
    long_wum: true,
    auto_sleep: true,
    auto_wum: false,
    loopback_enabled: false,
    interference_detected: false,
    f0: 5.5,
    f1: 10.5,
    bit_rate: 115200
  })
  t.ok(Object.isFrozen(DEFAULT_MODEM_CONFIG))
  t.same(PIN, { CMD: 13, FREQ: 19, HDI: 8, HDO: 10, INH: 15, nSLEEP: 11, SELECT: 21 })
})

// ---- wake ---------------------------------------------------------------

t.test('wake: INH already high -> nothing but the INH read', async (t) => {
  const hat = new FakeHat([1])
  await wake(hat)
  t.same(hat.ops, ['in INH', 'read INH=1'])
  t.equal(hat.now, 0)
})

t.test('wake: asleep -> nSLEEP pulse, INH polled every 1 ms, 150 ms for the wake-up message', async (t) => {
  const hat = new FakeHat([0, 0, 0, 1])
  await wake(hat)
  t.same(hat.ops, [
    'in INH', 'read INH=0',
    'out nSLEEP=0', 'sleep 1', 'write nSLEEP=1', 'sleep 1',
    'read INH=0', 'sleep 1', 'read INH=0', 'sleep 1', 'read INH=1',
    'sleep 150',
    'in nSLEEP'
  ])
  t.equal(hat.now, 1 + 1 + 2 + 150)
})

t.test('wake: INH high on the last poll of the second still succeeds', async (t) => {
  // the first read, then 1000 low polls each followed by a 1 ms sleep, then high
  const hat = new FakeHat([0, ...new Array<Level>(1000).fill(0), 1])
  await wake(hat)
  t.equal(hat.ops.filter((op) => op === 'read INH=0').length, 1001)
  t.same(hat.ops.slice(-3), ['read INH=1', 'sleep 150', 'in nSLEEP'])
  t.equal(hat.now, 2 + 1000 + 150)
})

t.test('wake: INH stays low -> gives up after 1 s (fake clock), nSLEEP released', async (t) => {
  const hat = new FakeHat([0])
  const started = Date.now()
  await t.rejects(wake(hat), { code: 'unavailable', message: 'modem wake failed: INH stayed low for 1 s' })
  t.ok(Date.now() - started < 900, 'no real second passed')
  t.equal(hat.now, 2 + 1000, '1 s of 1 ms polls after the pulse')
  t.equal(hat.ops.filter((op) => op === 'read INH=0').length, 1 + 1001)
  t.notOk(hat.ops.includes('sleep 150'), 'no wake-up wait')
  t.equal(hat.ops.at(-1), 'in nSLEEP')
  let err: unknown
  try { await wake(new FakeHat([0])) } catch (e) { err = e }
  t.ok(err instanceof OpenDcreError)
})

// ---- configure / read ---------------------------------------------------

const commandModeOps = (frequencyNumber: Level, inside: string[]): string[] => [
  'flush',
  `out FREQ=${frequencyNumber}`, 'in nSLEEP', 'in CMD', 'in SELECT',
  'out CMD=0', 'sleep 1',
  ...inside,
  'write CMD=1', 'in CMD', 'in FREQ'
]

t.test('configure: the exact pin and serial sequence, default configuration', async (t) => {
  const hat = new FakeHat()
  const serial = new FakeModemSerial(hat)
  await configure(hat, serial, DEFAULT_MODEM_CONFIG)
  t.same(hat.ops, commandModeOps(1, ['tx 05 69 15 29', 'sleep 1']))
  t.same([serial.reg0, serial.reg1], [0x69, 0x29], 'the modem took both registers while CMD was low')
  t.same(serial.freqAtWrite, [1, 1], 'with FREQ at the frequency number')
  t.same(serial.stray, [])
})

t.test('configure: another configuration (frequency 0, every flag flipped)', async (t) => {
  const hat = new FakeHat()
  const serial = new FakeModemSerial(hat)
  await configure(hat, serial, WITH_EVERY_FLAG)
  t.same(hat.ops, commandModeOps(0, ['tx 05 96 15 20', 'sleep 1']))
  t.same([serial.reg0, serial.reg1], [0x96, 0x20])
  t.same(serial.freqAtWrite, [0, 0])
})

t.test('configure: an unrepresentable configuration throws before any pin moves', async (t) => {
  const hat = new FakeHat()
  await t.rejects(configure(hat, new FakeModemSerial(hat), { ...DEFAULT_MODEM_CONFIG, bit_rate: 9600 }), { code: 'invalid-argument' })
  t.same(hat.ops, [])
})

t.test('configure: a failed serial write still releases CMD', async (t) => {
  const hat = new FakeHat()
  const serial = new FakeModemSerial(hat)
  serial.write = async () => { throw new OpenDcreError('unavailable', 'modem serial line unavailable: gone') }
  await t.rejects(configure(hat, serial, DEFAULT_MODEM_CONFIG), { message: 'modem serial line unavailable: gone' })
  t.same(hat.ops.slice(-3), ['write CMD=1', 'in CMD', 'in FREQ'])
})

t.test('readConfiguration: 0x0D then 0x1D, one byte each, decoded', async (t) => {
  const hat = new FakeHat()
  const serial = new FakeModemSerial(hat, [0x69, 0x29])
  t.same(await readConfiguration(hat, serial), DEFAULT_MODEM_CONFIG)
  t.same(hat.ops, commandModeOps(1, ['tx 0d', 'rx 69', 'tx 1d', 'rx 29']))
  t.same(serial.stray, [])
})

t.test('readConfiguration after configure returns what was written', async (t) => {
  for (const config of [DEFAULT_MODEM_CONFIG, WITH_EVERY_FLAG, { ...WITH_EVERY_FLAG, frequency_number: 1 as const, f0: 6.5, f1: 13, bit_rate: 57600 }]) {
    const hat = new FakeHat()
    const serial = new FakeModemSerial(hat)
    await configure(hat, serial, config)
    t.same(await readConfiguration(hat, serial, config.frequency_number), config)
  }
})

t.test('readConfiguration: a modem that does not answer -> timeout error, CMD released', async (t) => {
  const hat = new FakeHat()
  const serial = new FakeModemSerial(hat, [0x69, 0x29])
  serial.silent = true
  await t.rejects(readConfiguration(hat, serial), { code: 'timeout', message: 'modem did not answer the reg0 read (0 bytes)' })
  t.same(hat.ops.slice(-5), ['tx 0d', 'rx ', 'write CMD=1', 'in CMD', 'in FREQ'])
})

// ---- initializeHat ------------------------------------------------------

t.test('initializeHat: wake + configure twice, then read back', async (t) => {
  const hat = new FakeHat([0, 1])
  const serial = new FakeModemSerial(hat)
  const readBack = await initializeHat(hat, serial)
  t.same(readBack, DEFAULT_MODEM_CONFIG)
  const wakePass1 = ['in INH', 'read INH=0', 'out nSLEEP=0', 'sleep 1', 'write nSLEEP=1', 'sleep 1', 'read INH=1', 'sleep 150', 'in nSLEEP']
  const wakePass2 = ['in INH', 'read INH=1']
  const configureOps = commandModeOps(1, ['tx 05 69 15 29', 'sleep 1'])
  t.same(hat.ops, [
    ...wakePass1, ...configureOps,
    ...wakePass2, ...configureOps,
    ...commandModeOps(1, ['tx 0d', 'rx 69', 'tx 1d', 'rx 29'])
  ])
})

t.test('initializeHat: another configuration, read back at its frequency number', async (t) => {
  const hat = new FakeHat()
  const serial = new FakeModemSerial(hat)
  t.same(await initializeHat(hat, serial, WITH_EVERY_FLAG), WITH_EVERY_FLAG)
  t.equal(hat.ops.filter((op) => op === 'tx 05 96 15 20').length, 2)
  t.same(hat.ops.slice(-14), commandModeOps(0, ['tx 0d', 'rx 96', 'tx 1d', 'rx 20']))
})

t.test('initializeHat: a wake failure stops start-up before any configure', async (t) => {
  const hat = new FakeHat([0])
  await t.rejects(initializeHat(hat, new FakeModemSerial(hat)), { message: 'modem wake failed: INH stayed low for 1 s' })
  t.notOk(hat.ops.some((op) => op.startsWith('tx')))
})

t.test('initializeHat: an unrepresentable configuration throws before touching the hardware', async (t) => {
  const hat = new FakeHat()
  await t.rejects(initializeHat(hat, new FakeModemSerial(hat), { ...DEFAULT_MODEM_CONFIG, f0: 13, f1: 10.5 }), { code: 'invalid-argument' })
  t.same(hat.ops, [])
})

// ---- HatModem -----------------------------------------------------------

function recordingLog (): { log: DriverLogger, lines: Array<{ level: string, obj: unknown, msg?: string }> } {
  const lines: Array<{ level: string, obj: unknown, msg?: string }> = []
  const at = (level: string) => (obj: unknown, msg?: string) => { lines.push({ level, obj, msg }) }
  const log: DriverLogger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log }
  return { log, lines }
}

t.test('HatModem.initialize: opens the serial line, initializes, closes it', async (t) => {
  const hat = new FakeHat()
  const serial = new FakeModemSerial(hat)
  const { log, lines } = recordingLog()
  const modem = new HatModem({ gpio: hat, openSerial: async () => serial, log })
  t.same(await modem.initialize(), DEFAULT_MODEM_CONFIG)
  t.equal(serial.closed, 1)
  t.same(lines.map((l) => [l.level, l.msg]), [['info', 'modem configured']])
})

t.test('HatModem.initialize: warns when the modem reports another configuration', async (t) => {
  const hat = new FakeHat()
  const serial = new FakeModemSerial(hat)
  // a modem that keeps its reg1 (pair 0, 38400) whatever is written
  const write = serial.write.bind(serial)
  serial.write = async (bytes) => { await write(bytes); serial.reg1 = 0x00 }
  const { log, lines } = recordingLog()
  const modem = new HatModem({ gpio: hat, openSerial: async () => serial, log })
  const readBack = await modem.initialize()
  t.same([readBack.f0, readBack.f1, readBack.bit_rate], [1.75, 4.5, 38400])
  t.equal(lines[0].level, 'warn')
  t.match(lines[0].obj, { differs: ['f0', 'f1', 'bit_rate'] })
})

t.test('HatModem.readConfiguration: wakes, reads, closes; one procedure at a time; inside exclusive()', async (t) => {
  const hat = new FakeHat([0, 1])
  const serials: FakeModemSerial[] = []
  const held: string[] = []
  const modem = new HatModem({
    gpio: hat,
    openSerial: async () => {
      const serial = new FakeModemSerial(hat, [0x69, 0x29])
      serials.push(serial)
      return serial
    },
    exclusive: async (fn) => {
      held.push('hold')
      try { return await fn() } finally { held.push('release') }
    }
  })
  const [a, b] = await Promise.all([modem.readConfiguration(), modem.readConfiguration()])
  t.same(a, DEFAULT_MODEM_CONFIG)
  t.same(b, DEFAULT_MODEM_CONFIG)
  t.same(held, ['hold', 'release', 'hold', 'release'])
  t.same(serials.map((s) => s.closed), [1, 1])
  const oneRead = [
    'in INH', 'read INH=0', 'out nSLEEP=0', 'sleep 1', 'write nSLEEP=1', 'sleep 1', 'read INH=1', 'sleep 150', 'in nSLEEP',
    ...commandModeOps(1, ['tx 0d', 'rx 69', 'tx 1d', 'rx 29'])
  ]
  t.same(hat.ops.slice(0, oneRead.length), oneRead, 'the first read: wake, then the registers')
  t.same(hat.ops.slice(oneRead.length), ['in INH', 'read INH=1', ...commandModeOps(1, ['tx 0d', 'rx 69', 'tx 1d', 'rx 29'])], 'the second after it, not interleaved')
})

t.test('HatModem: a failed procedure closes the serial line and does not block the next', async (t) => {
  const hat = new FakeHat()
  const serial = new FakeModemSerial(hat, [0x69, 0x29])
  serial.silent = true
  const modem = new HatModem({ gpio: hat, openSerial: async () => serial })
  await t.rejects(modem.readConfiguration(), { code: 'timeout' })
  t.equal(serial.closed, 1)
  serial.silent = false
  t.same(await modem.readConfiguration(), DEFAULT_MODEM_CONFIG)
})

t.test('HatModem: an unrepresentable configuration is refused at construction', async (t) => {
  const hat = new FakeHat()
  t.throws(() => new HatModem({ gpio: hat, openSerial: async () => new FakeModemSerial(hat), config: { ...DEFAULT_MODEM_CONFIG, bit_rate: 1 } }), { code: 'invalid-argument' })
})
