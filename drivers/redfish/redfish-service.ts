import type { AssetInfo, BootTarget, LedState, LedStatus, PowerAction } from '../bus.js'
import type { BoardEvent, EventSeverity } from '../events.js'
import type { PhysicalLocation } from '../bus.js'
import { OpenDcreError } from '../errors.js'
import type { RedfishClient, RedfishResponse } from './redfish-client.js'
import { redfishSensorHealth } from './sensor-state.js'
import type { SensorHealth } from '../bus.js'

/**
 * What OpenDCRE asks of one Redfish service, in Redfish terms: discovery from
 * the service root (Systems, Chassis, Managers), sensors from the Chassis'
 * Sensors collection or else the legacy Thermal and Power resources, and the
 * system's Reset action, indicator LED and boot override. Shapes follow
 * DSP0268 (the schema guide) as DMTF's mockups and bmcweb serve them.
 */

export type SensorKind = 'temperature' | 'fan_speed' | 'voltage' | 'current' | 'power'

/** Device ids by kind: a block each, numbered in the order of the sensors' URIs, so ids stay put. */
export const SENSOR_ID_BASE: Record<SensorKind, number> = { temperature: 0x1000, fan_speed: 0x2000, voltage: 0x3000, current: 0x4000, power: 0x5000 }
const KIND_ORDER: SensorKind[] = ['temperature', 'fan_speed', 'voltage', 'current', 'power']

export interface RedfishSensor {
  deviceId: number
  kind: SensorKind
  /** The Redfish Name. */
  name: string
  /** The resource to GET for a reading: a Sensor, or a legacy Thermal/Power resource. */
  uri: string
  /** Legacy style: where in `uri`'s body the reading is. */
  legacy?: { array: string, memberId: string, field: string }
  /** For ordering: the sensor's @odata.id. */
  key: string
}

export interface Inventory {
  system: string
  chassis: string[]
  manager?: string
  sensors: RedfishSensor[]
  /** 'sensors': the Sensors collection; 'legacy': Thermal and Power. */
  style: 'sensors' | 'legacy' | 'none'
  discoveredAt: number
}

type Json = Record<string, any>

const odataId = (link: unknown): string | undefined => {
  const id = (link as Json | null | undefined)?.['@odata.id']
  return typeof id === 'string' ? id : undefined
}

const members = (body: Json): string[] => (Array.isArray(body?.Members) ? body.Members.map(odataId).filter((m: unknown): m is string => m !== undefined) : [])

/** The reading kind of a Sensor resource (DSP0268 Sensor.ReadingType / ReadingUnits), if OpenDCRE has one. */
function sensorKind (sensor: Json): SensorKind | undefined {
  switch (sensor.ReadingType) {
    case 'Temperature': return 'temperature'
    case 'Rotational': return 'fan_speed'
    case 'Voltage': return 'voltage'
    case 'Current': return 'current'
    case 'Power': return 'power'
  }
  if (sensor.ReadingType === undefined && sensor.ReadingUnits === 'RPM') return 'fan_speed'
  return undefined
}

/** ResetTypes for each power action, preferred first (a hard off, as IPMI's chassis control does). */
const RESET_PREFERENCE: Record<Exclude<PowerAction, 'status'>, string[]> = {
  on: ['On', 'ForceOn', 'PushPowerButton'],
  off: ['ForceOff', 'GracefulShutdown', 'PushPowerButton'],
  cycle: ['PowerCycle', 'ForceRestart', 'GracefulRestart']
}
const ALL_RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton', 'PowerCycle']

const BOOT_TARGETS: Record<BootTarget, string> = { pxe: 'Pxe', hdd: 'Hdd', no_override: 'None' }

export interface RedfishServiceOptions {
  /** How long a discovery is reused by scans (ms, default 60 s); reads, power and the rest always ask the service. */
  inventoryMaxAgeMs?: number
  now?: () => number
}

export class RedfishService {
  readonly client: RedfishClient
  private inventoryCache?: Inventory
  private discovery?: Promise<Inventory>
  private readonly maxAgeMs: number
  private readonly now: () => number
  /** Each sensor's thresholds and health from its last read (sensorHealth answers from it). */
  readonly health = new Map<number, SensorHealth>()

  constructor (client: RedfishClient, options: RedfishServiceOptions = {}) {
    this.client = client
    this.maxAgeMs = options.inventoryMaxAgeMs ?? 60_000
    this.now = options.now ?? Date.now
  }

  /** The last discovery, if any (scan-all falls back on it). */
  get cached (): Inventory | undefined {
    return this.inventoryCache
  }

  /** The service's system, chassis, manager and sensors; reused while younger than the max age unless `fresh`. */
  async inventory (fresh = false): Promise<Inventory> {
    const cached = this.inventoryCache
    if (!fresh && cached !== undefined && this.now() - cached.discoveredAt < this.maxAgeMs) return cached
    this.discovery ??= this.discover().then((inventory) => {
      this.inventoryCache = inventory
      return inventory
    }).finally(() => { this.discovery = undefined })
    return await this.discovery
  }

  private async get (path: string): Promise<RedfishResponse> {
    return await this.client.get(path)
  }

  private async discover (): Promise<Inventory> {
    const root = (await this.get('/redfish/v1/')).body as Json
    const systemsUri = odataId(root.Systems)
    if (systemsUri === undefined) throw new OpenDcreError('unsupported', `${this.client.url} has no Systems collection`)
    const systemUris = members((await this.get(systemsUri)).body)
    if (systemUris.length === 0) throw new OpenDcreError('not-found', `${this.client.url} lists no computer system`)
    const system = (await this.get(systemUris[0])).body as Json
    let chassis: string[] = Array.isArray(system.Links?.Chassis) ? system.Links.Chassis.map(odataId).filter((c: unknown) => c !== undefined) : []
    if (chassis.length === 0 && odataId(root.Chassis) !== undefined) chassis = members((await this.get(odataId(root.Chassis) as string)).body)
    let manager: string | undefined = Array.isArray(system.Links?.ManagedBy) ? odataId(system.Links.ManagedBy[0]) : undefined
    if (manager === undefined && odataId(root.Managers) !== undefined) manager = members((await this.get(odataId(root.Managers) as string)).body)[0]

    // $expand (DSP0266 §7.3.1) where the service offers it: a Sensors collection in one GET, not one per sensor
    const expandQuery = root.ProtocolFeaturesSupported?.ExpandQuery
    const expand = expandQuery?.NoLinks === true ? '?$expand=.($levels=1)' : expandQuery?.ExpandAll === true ? '?$expand=*($levels=1)' : ''
    const sensors: Array<Omit<RedfishSensor, 'deviceId'>> = []
    let style: Inventory['style'] = 'none'
    for (const chassisUri of chassis) {
      const body = (await this.get(chassisUri)).body as Json
      const sensorsUri = odataId(body.Sensors)
      if (sensorsUri !== undefined) {
        style = 'sensors'
        sensors.push(...await this.sensorsCollection(sensorsUri, expand))
      } else {
        if (style === 'none' && (odataId(body.Thermal) !== undefined || odataId(body.Power) !== undefined)) style = 'legacy'
        sensors.push(...await this.legacySensors(body))
      }
    }
    // stable ids: by kind, then by URI (and position), numbered from each kind's base
    const numbered: RedfishSensor[] = []
    for (const kind of KIND_ORDER) {
      sensors.filter((s) => s.kind === kind)
        .sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }))
        .forEach((s, i) => numbered.push({ ...s, deviceId: SENSOR_ID_BASE[kind] + i + 1 }))
    }
    return { system: systemUris[0], chassis, manager, sensors: numbered, style, discoveredAt: this.now() }
  }

  /** A Sensors collection: members may come expanded (with Reading) or as links. */
  private async sensorsCollection (uri: string, expand: string): Promise<Array<Omit<RedfishSensor, 'deviceId'>>> {
    const collection = (await this.get(uri + expand)).body as Json
    const list: Json[] = Array.isArray(collection.Members) ? collection.Members : []
    const bodies = await Promise.all(list.map(async (m) => (m.ReadingType !== undefined || m.ReadingUnits !== undefined ? m : (await this.get(odataId(m) as string)).body as Json)))
    const found: Array<Omit<RedfishSensor, 'deviceId'>> = []
    for (const sensor of bodies) {
      const kind = sensorKind(sensor)
      const id = odataId(sensor)
      if (kind === undefined || id === undefined) continue
      found.push({ kind, name: String(sensor.Name ?? sensor.Id ?? id), uri: id, key: id })
    }
    return found
  }

  /** The legacy Thermal (Temperatures, Fans) and Power (PowerControl, Voltages, PowerSupplies) arrays. */
  private async legacySensors (chassis: Json): Promise<Array<Omit<RedfishSensor, 'deviceId'>>> {
    const found: Array<Omit<RedfishSensor, 'deviceId'>> = []
    const add = (uri: string, body: Json, array: string, field: string, kind: SensorKind, accept: (m: Json) => boolean = () => true): void => {
      const items: Json[] = Array.isArray(body[array]) ? body[array] : []
      items.forEach((m, i) => {
        if (!accept(m) || !(field in m)) return
        const memberId = String(m.MemberId ?? i)
        const name = String(m.Name ?? m.FanName ?? `${array} ${memberId}`)
        found.push({ kind, name, uri, legacy: { array, memberId, field }, key: odataId(m) ?? `${uri}#/${array}/${String(i).padStart(4, '0')}` })
      })
    }
    const thermalUri = odataId(chassis.Thermal)
    if (thermalUri !== undefined) {
      const thermal = (await this.get(thermalUri)).body as Json
      add(thermalUri, thermal, 'Temperatures', 'ReadingCelsius', 'temperature')
      // a fan read in percent is no rpm
      add(thermalUri, thermal, 'Fans', 'Reading', 'fan_speed', (m) => m.ReadingUnits === undefined || m.ReadingUnits === 'RPM')
    }
    const powerUri = odataId(chassis.Power)
    if (powerUri !== undefined) {
      const power = (await this.get(powerUri)).body as Json
      add(powerUri, power, 'PowerControl', 'PowerConsumedWatts', 'power')
      add(powerUri, power, 'Voltages', 'ReadingVolts', 'voltage')
      add(powerUri, power, 'PowerSupplies', 'LastPowerOutputWatts', 'power')
    }
    return found
  }

  async sensor (deviceId: number): Promise<RedfishSensor | undefined> {
    let sensor = (await this.inventory()).sensors.find((s) => s.deviceId === deviceId)
    // a sensor not seen (yet): the service may have grown one since
    if (sensor === undefined) sensor = (await this.inventory(true)).sensors.find((s) => s.deviceId === deviceId)
    return sensor
  }

  async readSensor (sensor: RedfishSensor): Promise<number> {
    const body = (await this.get(sensor.uri)).body as Json
    let value: unknown
    if (sensor.legacy === undefined) {
      value = body.Reading
      this.health.set(sensor.deviceId, redfishSensorHealth(body))
    } else {
      const { array, memberId, field } = sensor.legacy
      const items: Json[] = Array.isArray(body[array]) ? body[array] : []
      const item = items.find((m, i) => String(m.MemberId ?? i) === memberId)
      value = item?.[field]
      if (item !== undefined) this.health.set(sensor.deviceId, redfishSensorHealth(item))
    }
    if (typeof value !== 'number') throw new OpenDcreError('device-error', `${sensor.name}: the service gives no reading`)
    return value
  }

  async firmwareVersion (): Promise<string> {
    const { manager } = await this.inventory()
    if (manager === undefined) throw new OpenDcreError('unsupported', `${this.client.url} lists no manager`)
    const version = (await this.get(manager)).body?.FirmwareVersion
    if (typeof version !== 'string') throw new OpenDcreError('unsupported', 'the manager gives no FirmwareVersion')
    return version
  }

  async system (): Promise<RedfishResponse> {
    return await this.get((await this.inventory()).system)
  }

  /** The ResetTypes the service allows: the action's AllowableValues, else its ActionInfo, else all of them. */
  async allowedResetTypes (system: Json): Promise<{ target: string, allowed: string[] }> {
    const action = system.Actions?.['#ComputerSystem.Reset']
    if (action === undefined || typeof action.target !== 'string') throw new OpenDcreError('unsupported', 'the system offers no #ComputerSystem.Reset action')
    let allowed: unknown = action['ResetType@Redfish.AllowableValues']
    if (!Array.isArray(allowed) && typeof action['@Redfish.ActionInfo'] === 'string') {
      const info = (await this.get(action['@Redfish.ActionInfo'])).body as Json
      allowed = (Array.isArray(info.Parameters) ? info.Parameters : []).find((p: Json) => p.Name === 'ResetType')?.AllowableValues
    }
    return { target: action.target, allowed: Array.isArray(allowed) ? allowed.filter((v): v is string => typeof v === 'string') : ALL_RESET_TYPES }
  }

  /** Power on/off/cycle through #ComputerSystem.Reset; answers the PowerState after it. */
  async power (action: PowerAction): Promise<string> {
    let system = (await this.system()).body as Json
    if (action !== 'status') {
      const { target, allowed } = await this.allowedResetTypes(system)
      const on = system.PowerState === 'On'
      const preference = RESET_PREFERENCE[action].filter((t) => t !== 'PushPowerButton' || (action === 'on' ? !on : on))
      const resetType = preference.find((t) => allowed.includes(t))
      if (resetType === undefined) {
        throw new OpenDcreError('unsupported', `the service allows no ResetType for power ${action} (it allows: ${allowed.join(', ') || 'none'})`)
      }
      await this.client.post(target, { ResetType: resetType })
      system = (await this.system()).body as Json
    }
    return String(system.PowerState ?? 'Unknown')
  }

  /** The identify LED: LocationIndicatorActive where present, else IndicatorLED (on the system, else the chassis). */
  async led (state?: LedState): Promise<LedStatus> {
    const inventory = await this.inventory()
    const candidates = [inventory.system, ...inventory.chassis]
    for (const uri of candidates) {
      const resource = await this.get(uri)
      const body = resource.body as Json
      if (typeof body.LocationIndicatorActive === 'boolean') {
        if (state === undefined) return { led_state: body.LocationIndicatorActive === true ? 'on' : 'off', led_color: 'unknown' }
        await this.patch(uri, resource, { LocationIndicatorActive: state === 'on' })
        return { led_state: (await this.get(uri)).body?.LocationIndicatorActive === true ? 'on' : 'off', led_color: 'unknown' }
      }
      if (typeof body.IndicatorLED === 'string') {
        if (state === undefined) return { led_state: indicatorState(body.IndicatorLED), led_color: 'unknown' }
        await this.patch(uri, resource, { IndicatorLED: state === 'on' ? 'Lit' : 'Off' })
        return { led_state: indicatorState((await this.get(uri)).body?.IndicatorLED), led_color: 'unknown' }
      }
    }
    throw new OpenDcreError('unsupported', 'the service has no indicator LED (LocationIndicatorActive or IndicatorLED)')
  }

  /** PATCH with the resource's ETag; a 412 (changed meanwhile) gets one fresh GET and one more try. */
  private async patch (uri: string, resource: RedfishResponse, body: unknown): Promise<void> {
    try {
      await this.client.patch(uri, body, resource.etag)
    } catch (err) {
      if ((err as { status?: number }).status !== 412) throw err
      await this.client.patch(uri, body, (await this.get(uri)).etag)
    }
  }

  /** Boot.BootSourceOverrideTarget (Pxe, Hdd, None), set with BootSourceOverrideEnabled: Once. */
  async bootTarget (target?: BootTarget): Promise<string> {
    const { system: uri } = await this.inventory()
    let resource = await this.get(uri)
    if (target !== undefined) {
      const boot = (resource.body as Json).Boot
      if (boot === undefined) throw new OpenDcreError('unsupported', 'the system has no Boot override')
      const value = BOOT_TARGETS[target]
      const allowed = boot['BootSourceOverrideTarget@Redfish.AllowableValues']
      if (Array.isArray(allowed) && !allowed.includes(value)) throw new OpenDcreError('unsupported', `the system does not allow boot target ${value} (it allows: ${allowed.join(', ')})`)
      await this.patch(uri, resource, { Boot: { BootSourceOverrideTarget: value, BootSourceOverrideEnabled: 'Once' } })
      resource = await this.get(uri)
    }
    const boot = (resource.body as Json).Boot ?? {}
    if (boot.BootSourceOverrideEnabled === 'Disabled' || boot.BootSourceOverrideTarget === 'None' || boot.BootSourceOverrideTarget === undefined) return 'no_override'
    return String(boot.BootSourceOverrideTarget).toLowerCase()
  }

  /** Manufacturer, model, serial, part number and asset tag of the system and chassis. */
  async asset (): Promise<Omit<AssetInfo, 'bmc_ip'>> {
    const inventory = await this.inventory()
    const [system, chassis] = await Promise.all([
      this.get(inventory.system).then((r) => r.body as Json),
      inventory.chassis.length > 0 ? this.get(inventory.chassis[0]).then((r) => r.body as Json) : Promise.resolve({} as Json)
    ])
    const pick = (entries: Record<string, unknown>): Record<string, string> =>
      Object.fromEntries(Object.entries(entries).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''))
    return {
      board_info: pick({ manufacturer: system.Manufacturer, part_number: system.PartNumber, product_name: system.Model, serial_number: system.SerialNumber }),
      chassis_info: pick({ chassis_type: chassis.ChassisType, part_number: chassis.PartNumber, serial_number: chassis.SerialNumber }),
      product_info: pick({ asset_tag: system.AssetTag, manufacturer: chassis.Manufacturer ?? system.Manufacturer, part_number: chassis.PartNumber, product_name: chassis.Model ?? system.Model, serial_number: chassis.SerialNumber, version: system.BiosVersion })
    }
  }

  /** The chassis' Location (or older PhysicalLocation): Placement's Row/Rack, RackOffset and the service label. */
  async location (): Promise<PhysicalLocation> {
    const inventory = await this.inventory()
    if (inventory.chassis.length === 0) return { depth: 'unknown', horizontal: 'unknown', vertical: 'unknown' }
    const chassis = (await this.get(inventory.chassis[0])).body as Json
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

  /** The entries of every LogService of the system and its manager (newest last, at most `limit`). */
  async events (limit = 200): Promise<BoardEvent[]> {
    const inventory = await this.inventory()
    const owners = [inventory.system, inventory.manager].filter((u): u is string => u !== undefined)
    const entries: Json[] = []
    for (const owner of owners) {
      const logServices = odataId((await this.get(owner)).body?.LogServices)
      if (logServices === undefined) continue
      for (const serviceUri of members((await this.get(logServices)).body)) {
        const entriesUri = odataId((await this.get(serviceUri)).body?.Entries)
        if (entriesUri === undefined) continue
        const list: Json[] = (await this.get(entriesUri)).body?.Members ?? []
        const bodies = await Promise.all(list.slice(-limit).map(async (m) => (m.Created !== undefined || m.Message !== undefined ? m : (await this.get(odataId(m) as string)).body as Json)))
        entries.push(...bodies)
      }
    }
    return entries.slice(-limit).map((e) => ({
      record_id: String(e.Id ?? ''),
      time: typeof e.Created === 'string' && e.Created !== '' ? e.Created : null,
      sensor: String(e.Oem?.OpenDCRE?.SensorName ?? (e.SensorNumber !== undefined ? `sensor ${String(e.SensorNumber)}` : '')),
      sensor_type: String(e.SensorType ?? e.EntryType ?? ''),
      event: String(e.Message ?? ''),
      direction: e.EntryCode === 'Deassert' ? 'deasserted' : 'asserted',
      severity: SEVERITY[String(e.Severity ?? 'OK')] ?? 'info'
    }))
  }
}

/** Redfish's Health values (Resource.Health) as the events' severities. */
const SEVERITY: Record<string, EventSeverity> = { OK: 'ok', Warning: 'warning', Critical: 'critical' }

function indicatorState (value: unknown): string {
  return value === 'Lit' ? 'on' : value === 'Blinking' ? 'blink' : 'off'
}
