import { FairQueue, type QueueLimits } from '../queueing/fair-queue.js'
import type { DriverLogger } from '../logger.js'
import type { BmcConfigEntry } from './bmc-config.js'
import { BmcCommands } from './bmc.js'
import type { BmcOperations, BridgeBmc, BridgeChassisStatus, BridgeEvent, BridgeSensor, BridgeSessionStatus } from './ipmi-bus.js'
import { convertReading, thresholdCondition, type SensorRecord } from './sdr.js'
import { decodeSelRecord, type PackedSelRecords } from './sel.js'

export type { BridgeSessionStatus } from './ipmi-bus.js'
import { DEFAULT_IPMI_POLICY, IpmiSession, type IpmiSessionOptions } from './session.js'
import { IpmiCompletionError, IpmiError, type IpmiRequester } from './types.js'

/** Sensor unit type codes (IPMI v2.0 §43.17) of the sensors the bridge exposes by unit. */
const UNIT = { volts: 4, amps: 5, watts: 6 } as const

/**
 * The device type of a sensor: temperature (sensor type 0x01) and fan (0x04)
 * as in v1.2, whatever their unit; then threshold sensors with an analog
 * reading by their unit: Watts is power (BMCs file power sensors under
 * Current, Power Supply or Other), Volts voltage, Amps current. Discrete
 * sensors have no value to convert and stay off the board.
 */
export function sensorKind (r: SensorRecord): BridgeSensor['kind'] {
  if (r.sensorType === 0x01) return 'temperature'
  if (r.sensorType === 0x04) return 'fan_speed'
  if (r.eventReadingType !== 0x01 || r.analogFormat === 'none') return 'other'
  if (r.baseUnit === UNIT.watts) return 'power'
  if (r.baseUnit === UNIT.volts) return 'voltage'
  if (r.baseUnit === UNIT.amps) return 'current'
  return 'other'
}

/** How long the bridge trusts its SDR cache before asking whether the repository changed. */
const SDR_RECHECK_MS = 10_000

/**
 * How long one Get Chassis Status answer also serves a read of the identify
 * LED. The poller reads a board's power and then its LED, one round trip
 * apart, and both are that one command: the LED's read takes the power
 * read's answer instead of asking again (one request of a board's ~13 per
 * cycle). A power read always asks. Our own commands (Chassis Control,
 * Chassis Identify) forget the answer; a change made by another tool shows
 * in an LED read at most this much later.
 */
export const CHASSIS_STATUS_SHARE_MS = 250

interface BridgeConnectionOptions extends Omit<IpmiSessionOptions, 'log'> {
  log?: DriverLogger
  /** The BMC's waiting room: how many requests may wait, and how long (default DEFAULT_BMC_QUEUE). */
  queue?: QueueLimits
}

const DEFAULT_BMC_QUEUE: QueueLimits = { depth: 32, waitMs: 3000 }

/** An empty SEL's sensor list: the same one every time, so its event list is kept too. */
const NO_SENSORS: readonly SensorRecord[] = Object.freeze([])

/**
 * Every operation on one BMC through one bounded, fair queue: one operation
 * at a time (the session runs one request at a time anyway), clients taking
 * turns, requests beyond the depth or the wait refused with 'overloaded'.
 */
function queuedOperations (ops: BmcOperations, queue: FairQueue): BmcOperations {
  const queued = {} as Record<string, unknown>
  // every operation takes one argument at most: passed along, no closure or argument list per call
  for (const [name, op] of Object.entries(ops) as Array<[string, (arg: unknown) => Promise<unknown>]>) {
    queued[name] = (arg?: unknown) => queue.run(op, arg)
  }
  return queued as unknown as BmcOperations
}

/**
 * One configured BMC for the bridge: its RMCP+ session (opened on first use,
 * kept alive, re-established when lost), the IPMI commands over it, and what
 * health and metrics need to know of it. Nothing here holds the password
 * beyond the session, which keeps it private.
 */
export function connectBmc (entry: BmcConfigEntry, options: BridgeConnectionOptions = {}): BridgeBmc & { status: () => BridgeSessionStatus } {
  const timeout = entry.timeoutMs
  const policy = timeout === undefined
    ? options.policy
    // a short bound keeps room for one retransmission at least
    : { retransmitMs: Math.min(DEFAULT_IPMI_POLICY.retransmitMs, Math.floor(timeout / 3)), ...options.policy, requestTimeoutMs: timeout }
  const { queue: queueLimits, ...sessionOptions } = options
  const session = new IpmiSession(entry.target, { ...sessionOptions, policy })
  const queue = new FairQueue(queueLimits ?? DEFAULT_BMC_QUEUE, `BMC ${entry.target.host}:${entry.target.port}`)
  let lastSuccessAt: number | null = null
  let lastError: string | undefined
  // every request goes through here: the time of the last answer and the last failure
  // (handlers made once: every request passes here)
  const answered = (answer: Buffer): Buffer => {
    lastSuccessAt = Date.now()
    lastError = undefined
    return answer
  }
  const failed = (err: unknown): never => {
    // a completion code is an answer: the session works
    if (err instanceof IpmiCompletionError) lastSuccessAt = Date.now()
    else lastError = err instanceof Error ? err.message : String(err)
    throw err
  }
  const requester: IpmiRequester = {
    request: (netFn, cmd, data) => session.request(netFn, cmd, data).then(answered, failed)
  }
  const commands = new BmcCommands(requester, { bootValidBit: entry.bootValidBit, sdrRecheckMs: SDR_RECHECK_MS })
  // the bridge's view of the SDR, made again only when the cached records change (every read asks for it)
  let sensorList: { records: SensorRecord[], sensors: BridgeSensor[], byNumber: Map<number, SensorRecord> } | undefined
  const listOf = (records: SensorRecord[]): BridgeSensor[] => {
    if (sensorList?.records !== records) {
      sensorList = {
        records,
        sensors: records.map((s) => ({ number: s.sensorNumber, name: s.name, kind: sensorKind(s) })),
        // the first record of a number, as a find over the list would give
        byNumber: new Map(records.toReversed().map((s) => [s.sensorNumber, s]))
      }
    }
    return sensorList.sensors
  }
  // the last SEL answer as events, made again only when the SEL or the SDR changed (the event watch asks every few seconds)
  let eventList: { packed: PackedSelRecords, records: Buffer[], sdr: readonly SensorRecord[], events: BridgeEvent[] } | undefined
  // each sensor's last threshold comparison status (Get Sensor Reading byte 3), for sensorHealth
  const lastStatus = new Map<number, number>()
  // the last Get Chassis Status answer (CHASSIS_STATUS_SHARE_MS), forgotten by each control of ours
  let chassis: { at: number, status: BridgeChassisStatus } | undefined
  let chassisGeneration = 0
  /** The kept answer when a shared one will do and it is young enough. */
  const keptChassis = (shared: boolean | undefined): BridgeChassisStatus | undefined =>
    shared === true && chassis !== undefined && performance.now() - chassis.at < CHASSIS_STATUS_SHARE_MS ? chassis.status : undefined
  const forgetChassis = (): void => {
    chassis = undefined
    chassisGeneration++
  }
  /** A command that changes what Get Chassis Status says: the kept answer is forgotten before and after it. */
  const forgettingChassis = <A>(command: (arg: A) => Promise<void>) => async (arg: A): Promise<void> => {
    forgetChassis()
    try {
      await command(arg)
    } finally {
      forgetChassis()
    }
  }
  const ops: BmcOperations = queuedOperations({
    sensors: async () => listOf(await commands.sensors()),
    readSensor: async (n) => {
      const reading = await commands.readSensor(n)
      lastStatus.set(n, reading.state)
      if (reading.value === null) {
        throw new IpmiError('protocol', `sensor 0x${n.toString(16).padStart(2, '0')} (${reading.name}) has no reading (${reading.scanningEnabled ? 'reading unavailable' : 'scanning disabled'})`)
      }
      return reading.value
    },
    chassisStatus: async (shared) => {
      // kept since this call took its place in the queue
      const kept = keptChassis(shared)
      if (kept !== undefined) return kept
      const generation = chassisGeneration
      const answer = await commands.chassisStatus()
      const status = { power: answer.power, powerFault: !answer.powerOk, identify: answer.identify }
      // an answer that crossed a control of ours is not kept
      if (generation === chassisGeneration) chassis = { at: performance.now(), status }
      return status
    },
    chassisControl: forgettingChassis(async (action: 'on' | 'off' | 'cycle') => await commands.chassisControl(action)),
    identify: forgettingChassis(async (state: 'on' | 'off') => await commands.identify(state)),
    bootTarget: async () => await commands.bootTarget(),
    setBootTarget: async (target) => await commands.setBootTarget(target),
    fru: async () => await commands.fru(),
    powerReading: async () => (await commands.powerReading())?.currentWatts,
    events: async () => {
      const packed = await commands.packedSelRecords()
      const sensors = packed.length === 0 ? NO_SENSORS : await commands.sensors()
      // an unchanged SEL is the same packed object: no record views made, no bytes compared
      if (eventList === undefined || eventList.sdr !== sensors || eventList.packed !== packed) {
        const records = packed.toArray()
        if (eventList === undefined || eventList.sdr !== sensors || !sameRecords(eventList.records, records)) {
          eventList = { packed, records, sdr: sensors, events: records.map((r) => withSensor(decodeSelRecord(r), sensors)) }
        } else eventList.packed = packed
      }
      return eventList.events.slice()
    }
  }, queue)
  // cached sensor records need no request: answered at once, without a turn in the queue (every poll asks)
  const queuedSensors = ops.sensors
  ops.sensors = async () => {
    const cached = commands.cachedSensors()
    return cached !== undefined ? listOf(cached) : await queuedSensors()
  }
  // a shared chassis status needs no request either
  const queuedChassisStatus = ops.chassisStatus
  ops.chassisStatus = async (shared) => keptChassis(shared) ?? await queuedChassisStatus(shared)
  // from what the last reads kept: no request, so not queued
  ops.sensorHealth = async (n) => {
    const record = sensorList?.byNumber.get(n)
    if (record === undefined || record.eventReadingType !== 0x01) return undefined
    const status = lastStatus.get(n)
    return { thresholds: record.thresholds ?? {}, ...(status !== undefined && record.thresholds !== undefined ? { condition: thresholdCondition(status) } : {}) }
  }
  return {
    target: { ...entry.target, password: '' },
    ops,
    close: async () => {
      queue.close(() => new IpmiError('closed', `IPMI session to BMC ${entry.target.host}:${entry.target.port} is closed`))
      await session.close()
    },
    status: () => {
      const c = session.counters
      return {
        state: session.state,
        reason: session.state === 'down' ? lastError : undefined,
        lastSuccessAt,
        counters: {
          requests: c.requests,
          sessionsEstablished: c.sessionsEstablished,
          relogins: c.relogins,
          timeouts: c.timeouts,
          errors: c.errors + c.completionErrors,
          garbage: c.garbage
        }
      }
    }
  }
}

/** The same SEL records, byte for byte (the SEL cache may hand out new Buffers for unchanged records). */
function sameRecords (a: Buffer[], b: Buffer[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (!a[i].equals(b[i])) return false
  return true
}

/** Names the SEL entry's sensor and converts a threshold event's reading and threshold with its SDR. */
function withSensor (e: BridgeEvent, sensors: readonly SensorRecord[]): BridgeEvent {
  if (e.sensorNumber === undefined || e.generatorId === undefined) return e
  // generator id byte 1: the IPMB slave address (bit 0 clear) of the controller that owns the sensor
  const owner = e.generatorId & 0xff
  const record = sensors.find((s) => s.sensorNumber === e.sensorNumber && s.ownerId === owner && s.ownerLun === ((e.generatorId as number) >> 8 & 0x03))
  if (record === undefined) return e
  // a device id only for sensors the board lists (discrete sensors are not devices)
  const out: BridgeEvent = { ...e, sensorName: record.name, ownSensor: sensorKind(record) !== 'other' }
  if (e.eventType === 0x01 && record.eventReadingType === 0x01) {
    if (e.triggerReadingRaw !== undefined) out.reading = convertReading(record, e.triggerReadingRaw) ?? undefined
    if (e.triggerThresholdRaw !== undefined) out.threshold = convertReading(record, e.triggerThresholdRaw) ?? undefined
  }
  return out
}
