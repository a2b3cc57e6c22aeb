import { FairQueue, type QueueLimits } from '../fair-queue.js'
import type { DriverLogger } from '../logger.js'
import type { BmcConfigEntry } from './bmc-config.js'
import { BmcCommands } from './bmc.js'
import type { BmcOperations, BridgeBmc, BridgeSensor, BridgeSessionStatus } from './ipmi-bus.js'

export type { BridgeSessionStatus } from './ipmi-bus.js'
import { DEFAULT_IPMI_POLICY, IpmiSession, type IpmiSessionOptions } from './session.js'
import { IpmiCompletionError, IpmiError, type IpmiRequester } from './types.js'

/** Sensor types the bridge exposes (IPMI v2.0 table 42-3). */
const SENSOR_KIND: Record<number, BridgeSensor['kind']> = { 0x01: 'temperature', 0x04: 'fan_speed' }

/** How long the bridge trusts its SDR cache before asking whether the repository changed. */
export const SDR_RECHECK_MS = 10_000

export interface BridgeConnectionOptions extends Omit<IpmiSessionOptions, 'log'> {
  log?: DriverLogger
  /** The BMC's waiting room: how many requests may wait, and how long (default DEFAULT_BMC_QUEUE). */
  queue?: QueueLimits
}

export const DEFAULT_BMC_QUEUE: QueueLimits = { depth: 32, waitMs: 3000 }

/**
 * Every operation on one BMC through one bounded, fair queue: one operation
 * at a time (the session runs one request at a time anyway), clients taking
 * turns, requests beyond the depth or the wait refused with 'overloaded'.
 */
export function queuedOperations (ops: BmcOperations, queue: FairQueue): BmcOperations {
  const queued = {} as Record<string, unknown>
  for (const [name, op] of Object.entries(ops) as Array<[string, (...args: unknown[]) => Promise<unknown>]>) {
    queued[name] = async (...args: unknown[]) => await queue.run(async () => await op(...args))
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
  const requester: IpmiRequester = {
    request: async (netFn, cmd, data) => {
      try {
        const answer = await session.request(netFn, cmd, data)
        lastSuccessAt = Date.now()
        lastError = undefined
        return answer
      } catch (err) {
        // a completion code is an answer: the session works
        if (err instanceof IpmiCompletionError) lastSuccessAt = Date.now()
        else lastError = err instanceof Error ? err.message : String(err)
        throw err
      }
    }
  }
  const commands = new BmcCommands(requester, { bootValidBit: entry.bootValidBit, sdrRecheckMs: SDR_RECHECK_MS })
  const ops: BmcOperations = queuedOperations({
    sensors: async () => (await commands.sensors()).map((s) => ({ number: s.sensorNumber, name: s.name, kind: SENSOR_KIND[s.sensorType] ?? 'other' })),
    readSensor: async (n) => {
      const reading = await commands.readSensor(n)
      if (reading.value === null) {
        throw new IpmiError('protocol', `sensor 0x${n.toString(16).padStart(2, '0')} (${reading.name}) has no reading (${reading.scanningEnabled ? 'reading unavailable' : 'scanning disabled'})`)
      }
      return reading.value
    },
    chassisStatus: async () => {
      const status = await commands.chassisStatus()
      return { power: status.power, powerFault: !status.powerOk, identify: status.identify }
    },
    chassisControl: async (action) => await commands.chassisControl(action),
    identify: async (state) => await commands.identify(state),
    bootTarget: async () => await commands.bootTarget(),
    setBootTarget: async (target) => await commands.setBootTarget(target),
    fru: async () => await commands.fru()
  }, queue)
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
