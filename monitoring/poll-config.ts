import { Type, type Static } from '@sinclair/typebox'
import { ConfigThresholdsSchema, type ConfigThresholds } from './thresholds.js'

/** What the poller does to get a device's value (a Bus method). */
export type PollOperation = 'read' | 'power' | 'led' | 'none'

const Seconds = (max: number): ReturnType<typeof Type.Number> =>
  Type.Number({ exclusiveMinimum: 0, maximum: max, errorMessage: `must be a number of seconds above 0, at most ${max}` })

/**
 * opendcre_config.json's `poll` key. Intervals are looked up backend first,
 * then device type: `intervals.<backend>.<device_type>`, then
 * `intervals.<backend>.default`, then `interval_s`.
 */
export const PollConfigFileSchema = Type.Object({
  enabled: Type.Optional(Type.Boolean({ errorMessage: 'must be true or false' })),
  interval_s: Type.Optional(Seconds(86400)),
  intervals: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Record(Type.String({ minLength: 1 }), Seconds(86400)),
    { errorMessage: 'must map a backend (device_bus, ipmi, ...) to {device_type or "default": seconds}' })),
  jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 0.5, errorMessage: 'must be a fraction of the interval from 0 to 0.5' })),
  concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, errorMessage: 'must be an integer from 1 to 10000' })),
  rescan_s: Type.Optional(Seconds(86400)),
  history_s: Type.Optional(Seconds(86400)),
  history_max: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, errorMessage: 'must be an integer from 1 to 100000' })),
  operations: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Record(Type.String({ minLength: 1 }),
    Type.Union([Type.Literal('read'), Type.Literal('power'), Type.Literal('led'), Type.Literal('none')])),
  { errorMessage: 'must map a backend (or "*") to {device_type or "device_type/device_id": "read" | "power" | "led" | "none"}' })),
  thresholds: Type.Optional(ConfigThresholdsSchema),
  events_s: Type.Optional(Seconds(3600)),
  event_looks_per_s: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, errorMessage: 'must be an integer from 1 to 100000' }))
}, { additionalProperties: false, errorMessage: 'poll takes {enabled, interval_s, intervals, jitter, concurrency, rescan_s, history_s, history_max, operations, thresholds, events_s, event_looks_per_s}' })

export type PollConfigFile = Static<typeof PollConfigFileSchema>

/** The poller's settings after defaults. */
export interface PollConfig {
  /** Whether the poller refreshes values on its own (off: only API reads fill it). */
  enabled: boolean
  /** The longest a device's value goes unrefreshed (seconds), unless `intervals` says otherwise. */
  intervalS: number
  /** Per backend, per device type (or "default"): seconds. */
  intervals: Record<string, Record<string, number>>
  /** Each wait is the interval shortened by a random fraction of up to `jitter`, so polls spread out and none comes late. */
  jitter: number
  /** At most this many requests in flight at once, all backends together. */
  concurrency: number
  /** Seconds between two inventories (scan-all) of every backend. */
  rescanS: number
  /** How far back a sensor's history reaches (seconds). */
  historyS: number
  /** At most this many history entries per sensor. */
  historyMax: number
  /** Per backend (or "*" for all): which Bus method polls a device type. */
  operations: Record<string, Record<string, PollOperation>>
  /** Thresholds for sensors whose device has none (the device bus), by "<board_id>/<device_id>" or device type. */
  thresholds?: ConfigThresholds
  /** Only these backends are polled on a schedule (the others answer API reads only); undefined: all. */
  backends?: string[]
  /** Seconds between two looks at each board's event log (IPMI Get SEL Info: one request when nothing changed). */
  eventsS: number
  /** At most this many event-log looks a second over the fleet: past that, the looks at each board space out beyond eventsS. */
  eventLooksPerS: number
}

/**
 * Which operation polls a device type unless configured: `power` reads the
 * power status, `led` the LED, `system` devices (board-level, no reading)
 * are skipped, anything else is a sensor read. Backends that keep their
 * identify LED on the system device (the IPMI bridge) say so here. A key
 * `<device_type>/<device_id>` names one device and comes before its type:
 * on the IPMI bridge and Redfish a `power` device is a sensor in watts
 * (read), except the board's power control, device 0100 (power status).
 */
const DEFAULT_OPERATIONS: Record<string, Record<string, PollOperation>> = {
  '*': { power: 'power', led: 'led', system: 'none' },
  ipmi: { system: 'led', power: 'read', 'power/0100': 'power' },
  redfish: { system: 'led', power: 'read', 'power/0100': 'power' }
}

/**
 * Board timers fire on a 100 ms grid, at the grid point at or before the
 * first poll due, and a board's round takes every device due before the
 * next grid point: polls due within the same 100 ms go out together, early
 * rather than late. The service and its BMCs then wake once for a burst of
 * datagrams, not once for each: at 1,000 BMCs every 5 s, 1.1-1.2x less CPU
 * per polled request, measured side by side (docs/benchmarks.md); 250 ms
 * measured no better.
 */
const POLL_GRID_MS = 100

/** When a board's timer fires for a poll due at `due` (ms): the grid point at or before it. */
export function gridPoint (due: number): number {
  return Math.floor(due / POLL_GRID_MS) * POLL_GRID_MS
}

/** Whether a round at `now` takes a poll due at `due`: it is due before the next grid point. */
export function dueInRound (due: number, now: number): boolean {
  return due < now + POLL_GRID_MS
}

const DEFAULT_POLL: PollConfig = {
  enabled: false,
  intervalS: 5,
  intervals: { ipmi: { default: 15 }, redfish: { default: 15 } },
  jitter: 0.1,
  concurrency: 64,
  rescanS: 300,
  historyS: 3600,
  historyMax: 720,
  operations: DEFAULT_OPERATIONS,
  eventsS: 2,
  eventLooksPerS: 500
}

/** The file's `poll` key over the defaults; `enabled` defaults to true when the key is there. */
export function resolvePollConfig (file: PollConfigFile | undefined, enabled?: boolean, onlyBackends?: string[]): PollConfig {
  const f = file ?? {}
  const intervals: Record<string, Record<string, number>> = {}
  for (const [backend, types] of Object.entries(DEFAULT_POLL.intervals)) intervals[backend] = { ...types }
  for (const [backend, types] of Object.entries(f.intervals ?? {})) intervals[backend] = { ...intervals[backend], ...types }
  const operations: Record<string, Record<string, PollOperation>> = {}
  for (const [backend, types] of Object.entries(DEFAULT_OPERATIONS)) operations[backend] = { ...types }
  for (const [backend, types] of Object.entries(f.operations ?? {})) operations[backend] = { ...operations[backend], ...types }
  return {
    enabled: enabled ?? f.enabled ?? (file !== undefined || onlyBackends !== undefined),
    ...(enabled === undefined && onlyBackends !== undefined ? { backends: onlyBackends } : {}),
    intervalS: f.interval_s ?? DEFAULT_POLL.intervalS,
    intervals,
    jitter: f.jitter ?? DEFAULT_POLL.jitter,
    concurrency: f.concurrency ?? DEFAULT_POLL.concurrency,
    rescanS: f.rescan_s ?? DEFAULT_POLL.rescanS,
    historyS: f.history_s ?? DEFAULT_POLL.historyS,
    historyMax: f.history_max ?? DEFAULT_POLL.historyMax,
    operations,
    thresholds: f.thresholds,
    eventsS: f.events_s ?? DEFAULT_POLL.eventsS,
    eventLooksPerS: f.event_looks_per_s ?? DEFAULT_POLL.eventLooksPerS
  }
}

/** Seconds between polls of a device type on a backend. */
export function pollInterval (config: PollConfig, backend: string, deviceType: string): number {
  const forBackend = config.intervals[backend]
  return forBackend?.[deviceType] ?? forBackend?.default ?? config.intervalS
}

/** The Bus method that polls a device (by `<type>/<device_id>`, else by type) on a backend. */
export function pollOperation (config: PollConfig, backend: string, deviceType: string, deviceId?: number): PollOperation {
  const device = deviceId !== undefined ? `${deviceType}/${deviceId.toString(16).padStart(4, '0')}` : undefined
  const forBackend = config.operations[backend]
  const forAll = config.operations['*']
  return (device !== undefined ? forBackend?.[device] : undefined) ?? forBackend?.[deviceType] ??
    (device !== undefined ? forAll?.[device] : undefined) ?? forAll?.[deviceType] ?? 'read'
}

/** History entries kept for a sensor polled every `intervalS`: one hour's worth, at most historyMax. */
export function historySize (config: PollConfig, intervalS: number): number {
  return Math.max(1, Math.min(config.historyMax, Math.ceil(config.historyS / intervalS)))
}
