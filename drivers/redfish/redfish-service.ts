import type { AssetInfo, BootTarget, LedState, LedStatus, PowerAction } from '../bus.js'
import type { BoardEvent, EventSeverity } from '../events.js'
import type { PhysicalLocation } from '../bus.js'
import type { ConcurrencyLimit } from '../queueing/concurrency-limit.js'
import { OpenDcreError } from '../errors.js'
import type { RedfishClient, RedfishResponse } from './redfish-client.js'
import { Discovery, type Inventory, type RedfishBoard, type RedfishSensor } from './redfish-discovery.js'
import { DEFAULT_REDFISH_LIMITS, RedfishCommand, memberList, object, odataId, refused, serviceLimit, type Json, type RedfishLimits } from './redfish-limits.js'
import { toKindUnits } from './redfish-sensors.js'
import { excerptValue, resourcesIn } from './redfish-excerpts.js'
import { redfishSensorHealth } from './sensor-state.js'
import type { PushedEvents, SensorHealth } from '../bus.js'
import { RedfishEventStream } from './redfish-event-stream.js'
import { watchBoardEvents, withSensor } from './redfish-pushed-events.js'

export type { Inventory, RedfishBoard, RedfishSensor } from './redfish-discovery.js'

/**
 * What OpenDCRE asks of one Redfish service, in Redfish terms: discovery
 * (redfish-discovery.ts: every ComputerSystem a board, every chassis'
 * sensors on one board), readings from one GET per Sensors collection,
 * Thermal or Power per poll cycle (expanded where the service offers
 * $expand, asked with If-None-Match), and each system's Reset action,
 * indicator LED and boot override. Every command is a RedfishCommand: its
 * requests share the service's concurrency bound and one deadline.
 */

/** ResetTypes for each power action, preferred first (a hard off, as IPMI's chassis control does). */
const RESET_PREFERENCE: Record<Exclude<PowerAction, 'status'>, string[]> = {
  on: ['On', 'ForceOn', 'PushPowerButton'],
  off: ['ForceOff', 'GracefulShutdown', 'PushPowerButton'],
  cycle: ['PowerCycle', 'ForceRestart', 'GracefulRestart']
}
const ALL_RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton', 'PowerCycle']

const BOOT_TARGETS: Record<BootTarget, string> = { pxe: 'Pxe', hdd: 'Hdd', no_override: 'None' }

/** Readings kept (snapshots of Sensors collections, Thermal, Power, systems) at most: a service cannot grow this without end. */
const SNAPSHOTS_KEPT = 1024

/**
 * A poll GET answering more than this (bytes of JSON text; the size above
 * which the client keeps no answer for If-None-Match) is not asked again:
 * the sources after it cost less.
 */
export const POLL_SOURCE_MAX_BYTES = 1024 * 1024

export interface RedfishServiceOptions {
  /** How long a discovery is reused by scans (ms, default 60 s); reads, power and the rest always ask the service. */
  inventoryMaxAgeMs?: number
  limits?: Partial<RedfishLimits>
  log?: { warn: (obj: object, msg: string) => void, debug?: (obj: object, msg: string) => void }
  now?: () => number
}

export class RedfishService {
  readonly client: RedfishClient
  readonly limits: RedfishLimits
  private inventoryCache?: Inventory
  private discovery?: Promise<Inventory>
  private readonly maxAgeMs: number
  private readonly now: () => number
  private readonly limit: ConcurrencyLimit
  private readonly log?: RedfishServiceOptions['log']
  private readonly snapshots = new Map<string, { at: number, answer: Promise<{ body: Json, bytes: number }> }>()
  /** The resources each kept answer holds (an expanded collection holds many), indexed once per answer. */
  private readonly held = new WeakMap<Json, Map<string, Json>>()
  /** Poll GETs the service refused, or answered without expanding: reads go past them. */
  private readonly unhelpful = new Set<string>()
  /** Each sensor's thresholds and health from its last read, by its @odata.id (sensorHealth answers from it). */
  readonly health = new Map<string, SensorHealth>()

  constructor (client: RedfishClient, options: RedfishServiceOptions = {}) {
    this.client = client
    this.maxAgeMs = options.inventoryMaxAgeMs ?? 60_000
    this.now = options.now ?? Date.now
    this.limits = { ...DEFAULT_REDFISH_LIMITS, ...options.limits }
    this.limit = serviceLimit(this.limits)
    this.log = options.log
  }

  /** One command's requests: bounded together, under one deadline. */
  command (what: string): RedfishCommand {
    return new RedfishCommand(this.client, this.limit, this.limits, what, this.now)
  }

  /** The last discovery, if any (scan-all falls back on it). */
  get cached (): Inventory | undefined {
    return this.inventoryCache
  }

  /** The service's boards and their sensors; reused while younger than the max age unless `fresh`. */
  async inventory (fresh = false): Promise<Inventory> {
    const cached = this.inventoryCache
    if (!fresh && cached !== undefined && this.now() - cached.discoveredAt < this.maxAgeMs) return cached
    this.discovery ??= new Discovery(this.command('discovery'), this.limits).run(this.now()).then((inventory) => {
      if (inventory.leftOut.length > 0) this.log?.warn({ service: this.client.url, leftOut: inventory.leftOut }, 'Redfish discovery: caps left some of the service out')
      this.inventoryCache = inventory
      return inventory
    }).finally(() => { this.discovery = undefined })
    return await this.discovery
  }

  /** The board in `slot`; a slot not seen is looked for in a fresh discovery. */
  async board (slot: number): Promise<RedfishBoard> {
    let board = (await this.inventory()).boards.find((b) => b.slot === slot)
    if (board === undefined) board = (await this.inventory(true)).boards.find((b) => b.slot === slot)
    if (board === undefined) throw new OpenDcreError('not-found', 'Redfish server with board_num was not found.')
    return board
  }

  private async system (slot: number): Promise<string> {
    const board = await this.board(slot)
    if (board.system === undefined) throw new OpenDcreError('unsupported', `${this.client.url}: board is an enclosure (${board.chassis.join(', ')}), not a computer system`)
    return board.system
  }

  async sensor (slot: number, deviceId: number): Promise<RedfishSensor | undefined> {
    let sensor = (await this.board(slot)).sensors.find((s) => s.deviceId === deviceId)
    // a sensor not seen (yet): the service may have grown one since
    if (sensor === undefined) sensor = (await this.inventory(true)).boards.find((b) => b.slot === slot)?.sensors.find((s) => s.deviceId === deviceId)
    return sensor
  }

  /**
   * A resource as read within the last readingMaxAgeMs (one GET serves a
   * poll cycle's reads of every sensor in it), asked with If-None-Match.
   */
  private async snapshot (uri: string, what: string): Promise<Json> {
    return (await this.sizedSnapshot(uri, what)).body
  }

  private async sizedSnapshot (uri: string, what: string): Promise<{ body: Json, bytes: number }> {
    const kept = this.snapshots.get(uri)
    if (kept !== undefined && this.now() - kept.at < this.limits.readingMaxAgeMs) return await kept.answer
    const answer = this.command(what).response(uri, { conditional: true }).then((r) => ({ body: object(r.body, this.client.url, uri), bytes: r.bytes ?? 0 }))
    this.snapshots.delete(uri)
    this.snapshots.set(uri, { at: this.now(), answer })
    if (this.snapshots.size > SNAPSHOTS_KEPT) this.snapshots.delete(this.snapshots.keys().next().value as string)
    answer.catch(() => { if (this.snapshots.get(uri)?.answer === answer) this.snapshots.delete(uri) })
    return await answer
  }

  /**
   * A resource as this poll cycle's GETs hold it: within the first of
   * `sources` (expanded answers) that holds it, else its own GET. A source
   * the service refuses (4xx, 501) or answers without the resource (it
   * ignored $expand) is not asked again; the read is the same either way.
   */
  private async resource (uri: string, sources: string[], what: string): Promise<Json> {
    const id = uri.replace(/\/$/, '')
    for (const source of sources) {
      // past a source not to ask again, unless its answer (already paid for) still serves this cycle
      const kept = this.snapshots.get(source)
      if (this.unhelpful.has(source) && (kept === undefined || this.now() - kept.at >= this.limits.readingMaxAgeMs)) continue
      let body: Json
      let bytes: number
      try {
        ({ body, bytes } = await this.sizedSnapshot(source, what))
      } catch (err) {
        // refused, or too large to take (an expand that swept in a huge resource): the next source, or the resource itself
        if (!refused(err) && (err as { tooLarge?: boolean }).tooLarge !== true) throw err
        this.markUnhelpful(source)
        continue
      }
      let held = this.held.get(body)
      if (held === undefined) {
        held = resourcesIn(body, this.limits.maxMembers * 8)
        this.held.set(body, held)
      }
      const found = held.get(id)
      // an answer this big (an expand that swept in far more than readings) serves this cycle; the next ones take smaller GETs
      if (bytes > POLL_SOURCE_MAX_BYTES) this.markUnhelpful(source)
      if (found !== undefined) return found
      this.markUnhelpful(source)
    }
    return await this.snapshot(uri, what)
  }

  private markUnhelpful (source: string): void {
    if (this.unhelpful.size >= SNAPSHOTS_KEPT) this.unhelpful.clear()
    this.unhelpful.add(source)
  }

  async readSensor (sensor: RedfishSensor): Promise<number> {
    const what = `reading ${sensor.name}`
    let value: unknown
    const body = await this.resource(sensor.uri, sensor.sources, what)
    if (sensor.legacy !== undefined) {
      const { array, memberId, field } = sensor.legacy
      const items: Json[] = Array.isArray(body[array]) ? body[array] : []
      const item = items.find((m, i) => String(m?.MemberId ?? i) === memberId)
      value = item?.[field]
      if (item !== undefined) this.health.set(sensor.key, redfishSensorHealth(item))
    } else if (sensor.excerpt !== undefined) {
      value = excerptValue(body, sensor.excerpt)
    } else {
      value = body.Reading
      this.health.set(sensor.key, redfishSensorHealth(body))
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new OpenDcreError('device-error', `${this.client.url}: ${sensor.uri}: ${sensor.name} gives no reading`)
    return toKindUnits(sensor.kind, value, sensor.fields)
  }

  async firmwareVersion (): Promise<string> {
    const { manager } = await this.inventory()
    if (manager === undefined) throw new OpenDcreError('unsupported', `${this.client.url} lists no manager`)
    const version = (await this.command('version').get(manager)).FirmwareVersion
    if (typeof version !== 'string') throw new OpenDcreError('unsupported', `${this.client.url}: ${manager} gives no FirmwareVersion`)
    return version
  }

  /** The ResetTypes the service allows: the action's AllowableValues, else its ActionInfo, else all of them. */
  async allowedResetTypes (system: Json, cmd: RedfishCommand = this.command('reset types')): Promise<{ target: string, allowed: string[] }> {
    const action = system.Actions?.['#ComputerSystem.Reset']
    if (action === undefined || typeof action.target !== 'string') throw new OpenDcreError('unsupported', 'the system offers no #ComputerSystem.Reset action')
    let allowed: unknown = action['ResetType@Redfish.AllowableValues']
    if (!Array.isArray(allowed) && typeof action['@Redfish.ActionInfo'] === 'string') {
      const info = await cmd.get(action['@Redfish.ActionInfo'])
      allowed = (Array.isArray(info.Parameters) ? info.Parameters : []).find((p: Json) => p?.Name === 'ResetType')?.AllowableValues
    }
    return { target: action.target, allowed: Array.isArray(allowed) ? allowed.filter((v): v is string => typeof v === 'string') : ALL_RESET_TYPES }
  }

  /** Power on/off/cycle through #ComputerSystem.Reset; answers the PowerState after it (status: as read this poll cycle). */
  async power (slot: number, action: PowerAction): Promise<string> {
    if (action === 'status') {
      const board = await this.board(slot)
      const uri = await this.system(slot)
      return String((await this.resource(uri, board.systemSources, 'power status')).PowerState ?? 'Unknown')
    }
    const uri = await this.system(slot)
    const cmd = this.command(`power ${action}`)
    const system = await cmd.get(uri)
    const { target, allowed } = await this.allowedResetTypes(system, cmd)
    const on = system.PowerState === 'On'
    const preference = RESET_PREFERENCE[action].filter((t) => t !== 'PushPowerButton' || (action === 'on' ? !on : on))
    const resetType = preference.find((t) => allowed.includes(t))
    if (resetType === undefined) {
      throw new OpenDcreError('unsupported', `the service allows no ResetType for power ${action} (it allows: ${allowed.join(', ') || 'none'})`)
    }
    await cmd.post(target, { ResetType: resetType })
    // the readings follow the power state: none kept from before
    this.snapshots.clear()
    return String((await cmd.get(uri)).PowerState ?? 'Unknown')
  }

  /** The identify LED: LocationIndicatorActive where present, else IndicatorLED (on the system, else a chassis of the board). */
  async led (slot: number, state?: LedState): Promise<LedStatus> {
    const board = await this.board(slot)
    const uri = board.led
    if (uri === undefined) throw new OpenDcreError('unsupported', 'the service has no indicator LED (LocationIndicatorActive or IndicatorLED)')
    if (state === undefined) return { led_state: ledState(await this.resource(uri, board.ledSources, 'LED')), led_color: 'unknown' }
    const cmd = this.command('LED')
    const resource = await cmd.response(uri)
    const body = resource.body as Json
    await this.patch(cmd, uri, resource, typeof body.LocationIndicatorActive === 'boolean' ? { LocationIndicatorActive: state === 'on' } : { IndicatorLED: state === 'on' ? 'Lit' : 'Off' })
    this.snapshots.clear()
    return { led_state: ledState(await cmd.get(uri)), led_color: 'unknown' }
  }

  /** PATCH with the resource's ETag; a 412 (changed meanwhile) gets one fresh GET and one more try. */
  private async patch (cmd: RedfishCommand, uri: string, resource: RedfishResponse, body: unknown): Promise<void> {
    try {
      await cmd.patch(uri, body, resource.etag)
    } catch (err) {
      if ((err as { status?: number }).status !== 412) throw err
      await cmd.patch(uri, body, (await cmd.response(uri)).etag)
    }
  }

  /** Boot.BootSourceOverrideTarget (Pxe, Hdd, None), set with BootSourceOverrideEnabled: Once. */
  async bootTarget (slot: number, target?: BootTarget): Promise<string> {
    const uri = await this.system(slot)
    const cmd = this.command('boot target')
    let resource = await cmd.response(uri)
    if (target !== undefined) {
      const boot = (resource.body as Json).Boot
      if (typeof boot !== 'object' || boot === null) throw new OpenDcreError('unsupported', 'the system has no Boot override')
      const value = BOOT_TARGETS[target]
      const allowed = boot['BootSourceOverrideTarget@Redfish.AllowableValues']
      if (Array.isArray(allowed) && !allowed.includes(value)) throw new OpenDcreError('unsupported', `the system does not allow boot target ${value} (it allows: ${allowed.join(', ')})`)
      await this.patch(cmd, uri, resource, { Boot: { BootSourceOverrideTarget: value, BootSourceOverrideEnabled: 'Once' } })
      resource = await cmd.response(uri)
    }
    const boot = (resource.body as Json).Boot ?? {}
    if (boot.BootSourceOverrideEnabled === 'Disabled' || boot.BootSourceOverrideTarget === 'None' || boot.BootSourceOverrideTarget === undefined) return 'no_override'
    return String(boot.BootSourceOverrideTarget).toLowerCase()
  }

  /** Manufacturer, model, serial, part number and asset tag of the system and its main chassis. */
  async asset (slot: number): Promise<Omit<AssetInfo, 'bmc_ip'>> {
    const board = await this.board(slot)
    const cmd = this.command('asset')
    const [system, chassis] = await Promise.all([
      board.system !== undefined ? cmd.get(board.system) : Promise.resolve({} as Json),
      board.chassis.length > 0 ? cmd.get(board.chassis[0]) : Promise.resolve({} as Json)
    ])
    const pick = (entries: Record<string, unknown>): Record<string, string> =>
      Object.fromEntries(Object.entries(entries).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''))
    return {
      board_info: pick({ manufacturer: system.Manufacturer, part_number: system.PartNumber, product_name: system.Model, serial_number: system.SerialNumber }),
      chassis_info: pick({ chassis_type: chassis.ChassisType, part_number: chassis.PartNumber, serial_number: chassis.SerialNumber }),
      product_info: pick({ asset_tag: system.AssetTag, manufacturer: chassis.Manufacturer ?? system.Manufacturer, part_number: chassis.PartNumber, product_name: chassis.Model ?? system.Model, serial_number: chassis.SerialNumber, version: system.BiosVersion })
    }
  }

  /** The main chassis' Location (or older PhysicalLocation): Placement's Row/Rack, RackOffset and the service label. */
  async location (slot: number): Promise<PhysicalLocation> {
    const board = await this.board(slot)
    if (board.chassis.length === 0) return { depth: 'unknown', horizontal: 'unknown', vertical: 'unknown' }
    const chassis = await this.command('location').get(board.chassis[0])
    const location: Json = chassis.Location ?? chassis.PhysicalLocation ?? {}
    const placement: Json = location.Placement ?? {}
    const part: Json = location.PartLocation ?? {}
    const horizontal = [placement.Row !== undefined ? `row ${String(placement.Row)}` : undefined, placement.Rack !== undefined ? `rack ${String(placement.Rack)}` : undefined].filter((x) => x !== undefined).join(', ')
    const vertical = typeof placement.RackOffset === 'number' ? `U${placement.RackOffset}` : typeof part.LocationOrdinalValue === 'number' ? `slot ${part.LocationOrdinalValue}` : undefined
    return {
      depth: typeof part.ServiceLabel === 'string' && part.ServiceLabel !== '' ? part.ServiceLabel : 'unknown',
      horizontal: horizontal !== '' ? horizontal : 'unknown',
      vertical: vertical ?? 'unknown'
    }
  }

  private eventStream?: RedfishEventStream

  /** The event stream's state and why it last failed, once subscribed (the bus's health shows it). */
  get eventStreamStatus (): { state: string, reason?: string } | undefined {
    const stream = this.eventStream
    if (stream === undefined || stream.closed) return undefined
    return stream.reason === undefined ? { state: stream.state } : { state: stream.state, reason: stream.reason }
  }

  /** The board's events as the service pushes them (its EventService's SSE stream, one per service; redfish-event-stream.ts). */
  watchEvents (slot: number, onEvents: (events: BoardEvent[], linked: boolean) => void): PushedEvents {
    if (this.eventStream === undefined || this.eventStream.closed) this.eventStream = new RedfishEventStream(this.client, { log: this.log })
    return watchBoardEvents(this.eventStream, () => this.inventoryCache?.boards ?? [], slot, onEvents)
  }

  /** The entries of every LogService of the system and its manager (newest last, at most `limit`). */
  async events (slot: number, limit = 200): Promise<BoardEvent[]> {
    const board = await this.board(slot)
    const inventory = await this.inventory()
    const cmd = this.command('event log')
    const owners = [board.system, inventory.manager].filter((u): u is string => u !== undefined)
    const entries: Json[] = []
    for (const owner of owners) {
      const logServices = odataId((await cmd.get(owner)).LogServices)
      if (logServices === undefined) continue
      for (const service of memberList(await cmd.get(logServices), this.limits.maxMembers)) {
        const entriesUri = odataId((await cmd.get(odataId(service) as string)).Entries)
        if (entriesUri === undefined) continue
        const collection = await cmd.get(entriesUri)
        const list: unknown[] = Array.isArray(collection.Members) ? collection.Members : []
        const last = list.slice(-Math.min(limit, this.limits.maxMembers)).filter((m): m is Json => odataId(m) !== undefined)
        entries.push(...await cmd.each(last, async (m) => (m.Created !== undefined || m.Message !== undefined ? m : await cmd.get(odataId(m) as string))))
      }
    }
    return entries.slice(-limit).map((e) => withSensor({
      record_id: String(e.Id ?? ''),
      time: typeof e.Created === 'string' && e.Created !== '' ? e.Created : null,
      sensor: String(e.Oem?.OpenDCRE?.SensorName ?? (e.SensorNumber !== undefined ? `sensor ${String(e.SensorNumber)}` : '')),
      sensor_type: String(e.SensorType ?? e.EntryType ?? ''),
      event: String(e.Message ?? ''),
      direction: e.EntryCode === 'Deassert' ? 'deasserted' : 'asserted',
      severity: SEVERITY[String(e.Severity ?? 'OK')] ?? 'info'
    }, board, odataId(e.Links?.OriginOfCondition)))
  }
}

/** Redfish's Health values (Resource.Health) as the events' severities. */
const SEVERITY: Record<string, EventSeverity> = { OK: 'ok', Warning: 'warning', Critical: 'critical' }

function indicatorState (value: unknown): string {
  return value === 'Lit' ? 'on' : value === 'Blinking' ? 'blink' : 'off'
}

function ledState (body: Json): string {
  if (typeof body.LocationIndicatorActive === 'boolean') return body.LocationIndicatorActive ? 'on' : 'off'
  return indicatorState(body.IndicatorLED)
}
