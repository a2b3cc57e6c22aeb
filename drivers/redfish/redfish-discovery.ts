import { OpenDcreError } from '../errors.js'
import { byUri, links, memberList, odataId, type Json, type RedfishCommand, type RedfishLimits } from './redfish-limits.js'
import { KIND_BLOCK, KIND_ORDER, KINDS, keptFields, sensorKind, type ListedBy, type SensorKind } from './redfish-sensors.js'

/**
 * Discovery from the Redfish model (DSP0268): every ComputerSystem is a
 * board; every chassis belongs to the one system it serves (the system's
 * Links.Chassis, the chassis' Links.ComputerSystems; with one system in
 * the service, every chassis is its), and a chassis shared by several
 * systems, or by none in a service of several, is a board of its own (an
 * enclosure). Sensors come from each chassis' Sensors collection; the
 * legacy Thermal and Power resources add only what that lacks.
 */

export interface RedfishSensor {
  deviceId: number
  kind: SensorKind
  /** The Redfish Name. */
  name: string
  /** The resource holding the reading: a Sensor, or a legacy Thermal/Power resource. */
  uri: string
  /** A resource whose one GET holds this reading with others (an expanded Sensors collection, Thermal, Power). */
  source?: string
  /** Legacy style: where in `uri`'s body the reading is. */
  legacy?: { array: string, memberId: string, field: string }
  /** For ordering: the sensor's @odata.id. */
  key: string
  /** The Sensor's own fields as discovery read them (keptFields): units, ranges, Thresholds. */
  fields: Json
}

/** Board slot of the first enclosure (shared chassis) board; systems take the slots below it. */
export const ENCLOSURE_SLOT = 0x800
export const MAX_SLOT = 0xfff

export interface RedfishBoard {
  /** Position within the service: systems 0.. in URI order, enclosures from ENCLOSURE_SLOT in URI order. */
  slot: number
  /** The ComputerSystem (absent on an enclosure board). */
  system?: string
  /** The chassis whose sensors are this board's, the main one first. */
  chassis: string[]
  /** The resource with the identify LED (LocationIndicatorActive or IndicatorLED), if any. */
  led?: string
  sensors: RedfishSensor[]
}

export interface Inventory {
  boards: RedfishBoard[]
  manager?: string
  /** The $expand query the service takes ('' when none). */
  expand: string
  /** 'sensors': some chassis have a Sensors collection; 'legacy': Thermal and Power only. */
  style: 'sensors' | 'legacy' | 'none'
  /** What the caps left out (for the log). */
  leftOut: string[]
  discoveredAt: number
}

type Found = Omit<RedfishSensor, 'deviceId'>

/** The $expand query (DSP0266 §7.3.1) a service's ProtocolFeaturesSupported offers, one level. */
export function expandQuery (root: Json): string {
  const q = root.ProtocolFeaturesSupported?.ExpandQuery
  if (q?.NoLinks === true) return '?$expand=.($levels=1)'
  if (q?.ExpandAll === true) return '?$expand=*($levels=1)'
  return ''
}

function hasLed (body: Json): boolean {
  return typeof body.LocationIndicatorActive === 'boolean' || typeof body.IndicatorLED === 'string'
}

export class Discovery {
  private readonly cmd: RedfishCommand
  private readonly limits: RedfishLimits
  private readonly leftOut: string[] = []
  private expand = ''

  constructor (cmd: RedfishCommand, limits: RedfishLimits) {
    this.cmd = cmd
    this.limits = limits
  }

  /** A collection's members as resources: inline where the answer expanded them, else one GET each (bounded). */
  private async members (uri: string, max: number): Promise<Json[]> {
    return (await this.membersInline(uri, max)).bodies
  }

  /** The members, and which of them came inline (expanded) in the collection's answer. */
  private async membersInline (uri: string, max: number): Promise<{ bodies: Json[], inline: Set<string> }> {
    const collection = await this.cmd.get(uri + this.expand)
    const list = memberList(collection, max)
    const total = Array.isArray(collection.Members) ? collection.Members.length : 0
    if (total > list.length) this.leftOut.push(`${uri}: took ${list.length} of ${total} members`)
    const inline = new Set(list.filter((m) => Object.keys(m).length > 1).map((m) => odataId(m) as string))
    const bodies = await this.cmd.each(list, async (m) => (inline.has(odataId(m) as string) ? m : await this.cmd.get(odataId(m) as string)))
    return { bodies, inline }
  }

  async run (now: number): Promise<Inventory> {
    const root = await this.cmd.get('/redfish/v1/')
    this.expand = expandQuery(root)
    const systemsUri = odataId(root.Systems)
    if (systemsUri === undefined) throw new OpenDcreError('unsupported', `${this.cmd.url} has no Systems collection`)
    const systems = (await this.members(systemsUri, Math.min(this.limits.maxMembers, ENCLOSURE_SLOT))).filter((s) => odataId(s) !== undefined)
    if (systems.length === 0) throw new OpenDcreError('not-found', `${this.cmd.url} lists no computer system`)
    systems.sort((a, b) => byUri(odataId(a) as string, odataId(b) as string))
    const systemUris = systems.map((s) => odataId(s) as string)

    // the chassis: the collection's, and any a system links that it did not list, up to max_chassis
    const chassisUris = odataId(root.Chassis) !== undefined ? await this.chassisLinks(odataId(root.Chassis) as string) : []
    for (const s of systems) {
      for (const c of links(s.Links?.Chassis, this.limits.maxChassis)) if (!chassisUris.includes(c)) chassisUris.push(c)
    }
    if (chassisUris.length > this.limits.maxChassis) this.leftOut.push(`chassis: followed ${this.limits.maxChassis} of ${chassisUris.length}`)
    const followed = chassisUris.slice(0, this.limits.maxChassis)
    const chassis = new Map<string, Json>()
    await this.cmd.each(followed, async (uri) => { chassis.set(uri, await this.cmd.get(uri)) })

    // owners: which systems each chassis serves
    const owners = new Map<string, Set<string>>(followed.map((c) => [c, new Set<string>()]))
    for (const s of systems) for (const c of links(s.Links?.Chassis, this.limits.maxChassis)) owners.get(c)?.add(odataId(s) as string)
    for (const [uri, body] of chassis) for (const sys of links(body.Links?.ComputerSystems, this.limits.maxMembers)) if (systemUris.includes(sys)) owners.get(uri)?.add(sys)

    const boards: RedfishBoard[] = systems.map((s, slot) => ({ slot, system: odataId(s) as string, chassis: [], led: hasLed(s) ? odataId(s) : undefined, sensors: [] }))
    const enclosures: RedfishBoard[] = []
    for (const uri of [...followed].sort(byUri)) {
      const served = [...(owners.get(uri) ?? [])]
      if (served.length === 0 && systems.length === 1) served.push(systemUris[0])
      let board: RedfishBoard
      if (served.length === 1) {
        board = boards[systemUris.indexOf(served[0])]
      } else {
        if (ENCLOSURE_SLOT + enclosures.length > MAX_SLOT) continue
        board = { slot: ENCLOSURE_SLOT + enclosures.length, chassis: [], sensors: [] }
        enclosures.push(board)
      }
      board.chassis.push(uri)
      if (board.led === undefined && hasLed(chassis.get(uri) ?? {})) board.led = uri
    }
    // a system's main chassis first: the one it links first
    for (const [i, s] of systems.entries()) {
      const first = links(s.Links?.Chassis, 1)[0]
      const b = boards[i]
      if (first !== undefined && b.chassis.includes(first)) b.chassis = [first, ...b.chassis.filter((c) => c !== first)]
    }

    let style: Inventory['style'] = 'none'
    const all = [...boards, ...enclosures]
    await this.cmd.each(all, async (board) => {
      const found: Found[] = []
      for (const uri of board.chassis) {
        const body = chassis.get(uri) ?? {}
        const fromSensors = odataId(body.Sensors) !== undefined ? await this.sensorsCollection(odataId(body.Sensors) as string) : []
        if (fromSensors.length > 0) style = 'sensors'
        const legacy = await this.legacySensors(body, fromSensors)
        if (legacy.length > 0 && style === 'none') style = 'legacy'
        found.push(...fromSensors, ...legacy)
      }
      board.sensors = this.numbered(found)
    })
    const managedBy = links(systems[0].Links?.ManagedBy, 1)[0]
    const managers = odataId(root.Managers)
    const manager = managedBy ?? (managers !== undefined ? odataId(memberList(await this.cmd.get(managers), 1)[0]) : undefined)
    return { boards: all, manager, expand: this.expand, style, leftOut: this.leftOut, discoveredAt: now }
  }

  private async chassisLinks (uri: string): Promise<string[]> {
    // links only: a chassis is read once, whether the collection expanded or not
    const collection = await this.cmd.get(uri)
    const list = memberList(collection, this.limits.maxChassis + 1).map((m) => odataId(m) as string)
    const total = Array.isArray(collection.Members) ? collection.Members.length : 0
    if (total > this.limits.maxChassis) this.leftOut.push(`${uri}: took ${this.limits.maxChassis} of ${total} members`)
    return list
  }

  /** Stable ids: by kind, then by URI (and position), numbered from each kind's base. */
  private numbered (found: Found[]): RedfishSensor[] {
    const out: RedfishSensor[] = []
    for (const kind of KIND_ORDER) {
      const ofKind = found.filter((s) => s.kind === kind).sort((a, b) => byUri(a.key, b.key))
      if (ofKind.length > KIND_BLOCK) this.leftOut.push(`${kind}: numbered ${KIND_BLOCK} of ${ofKind.length} sensors`)
      ofKind.slice(0, KIND_BLOCK).forEach((s, i) => out.push({ ...s, deviceId: KINDS[kind].base + i + 1 }))
    }
    return out
  }

  /** A Sensors collection: members may come expanded (with Reading) or as links. */
  private async sensorsCollection (uri: string): Promise<Found[]> {
    const { bodies, inline } = await this.membersInline(uri, this.limits.maxMembers)
    const links = inline
    const found: Found[] = []
    for (const sensor of bodies) {
      const kind = sensorKind(sensor)
      const id = odataId(sensor)
      if (kind === undefined || id === undefined) continue
      // expanded: the collection's one GET carries this sensor's reading (or its absence)
      const expanded = this.expand !== '' && Object.keys(sensor).length > 1 && links.has(id)
      found.push({ kind, name: String(sensor.Name ?? sensor.Id ?? id), uri: id, source: expanded ? uri + this.expand : undefined, key: id, fields: keptFields(sensor) })
    }
    return found
  }

  /**
   * The legacy Thermal (Temperatures, Fans) and Power (PowerControl,
   * Voltages, PowerSupplies) arrays, each member taken unless the Sensors
   * collection has it already: its DataSourceUri is there, or the
   * collection has sensors of its kind at all (both styles describe the
   * same hardware; the Sensors collection is the newer, fuller one).
   */
  private async legacySensors (chassis: Json, fromSensors: Found[]): Promise<Found[]> {
    const found: Found[] = []
    const known = new Set(fromSensors.map((s) => s.uri))
    const kinds = new Set(fromSensors.map((s) => s.kind))
    const add = (uri: string, body: Json, array: ListedBy, field: string): void => {
      const items: unknown[] = Array.isArray(body[array]) ? body[array].slice(0, this.limits.maxMembers) : []
      items.forEach((item, i) => {
        if (typeof item !== 'object' || item === null) return
        const m = item as Json
        if (!(field in m) || (typeof m.DataSourceUri === 'string' && known.has(m.DataSourceUri))) return
        const kind = sensorKind({ ReadingUnits: m.ReadingUnits, Name: m.Name ?? m.FanName }, array)
        if (kind === undefined || kinds.has(kind)) return
        const memberId = String(m.MemberId ?? i)
        const name = String(m.Name ?? m.FanName ?? `${array} ${memberId}`)
        found.push({ kind, name, uri, source: uri, legacy: { array, memberId, field }, key: odataId(m) ?? `${uri}#/${array}/${String(i).padStart(4, '0')}`, fields: keptFields(m) })
      })
    }
    // a legacy resource is read only when the Sensors collection lacks a kind it lists
    const thermalUri = kinds.has('temperature') && kinds.has('fan_speed') ? undefined : odataId(chassis.Thermal)
    if (thermalUri !== undefined) {
      const thermal = await this.cmd.get(thermalUri)
      add(thermalUri, thermal, 'Temperatures', 'ReadingCelsius')
      add(thermalUri, thermal, 'Fans', 'Reading')
    }
    const powerUri = kinds.has('power') && kinds.has('voltage') ? undefined : odataId(chassis.Power)
    if (powerUri !== undefined) {
      const power = await this.cmd.get(powerUri)
      add(powerUri, power, 'PowerControl', 'PowerConsumedWatts')
      add(powerUri, power, 'Voltages', 'ReadingVolts')
      add(powerUri, power, 'PowerSupplies', 'LastPowerOutputWatts')
    }
    return found
  }
}
