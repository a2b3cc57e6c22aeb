import { OpenDcreError } from '../errors.js'
import { byUri, links, memberList, odataId, refused, type Json, type RedfishCommand, type RedfishLimits } from './redfish-limits.js'
import { KIND_BLOCK, KIND_ORDER, KINDS, keptFields, sensorKind, type ListedBy, type SensorKind } from './redfish-sensors.js'
import { excerptsOf, resourcesIn, subordinateLinks, type ExcerptAt, type FoundExcerpt } from './redfish-excerpts.js'

/**
 * Discovery from the Redfish model (DSP0268): every ComputerSystem is a
 * board; every chassis belongs to the one system it serves (the system's
 * Links.Chassis, the chassis' Links.ComputerSystems; with one system in
 * the service, every chassis is its), and a chassis shared by several
 * systems, or by none in a service of several, is a board of its own (an
 * enclosure). Sensors come from each chassis' Sensors collection; the
 * legacy Thermal and Power resources add only what that lacks, and the
 * ThermalSubsystem and PowerSubsystem excerpts whose DataSourceUri is no
 * Sensor found (redfish-excerpts.ts), then the EnvironmentMetrics excerpts
 * that none of these holds. Each reading also names the GETs that
 * hold it for a poll cycle (`sources`, $expand where the service offers it).
 */

export interface RedfishSensor {
  deviceId: number
  kind: SensorKind
  /** The Redfish Name. */
  name: string
  /** The resource holding the reading: a Sensor, a legacy Thermal/Power resource, or a resource of a Thermal/PowerSubsystem. */
  uri: string
  /**
   * GETs whose one answer holds `uri`'s resource with others, tried in order
   * (an expanded Chassis collection, an expanded Sensors collection or
   * subsystem); `uri` itself is asked when none does.
   */
  sources: string[]
  /** Legacy style: where in `uri`'s body the reading is. */
  legacy?: { array: string, memberId: string, field: string }
  /** A subsystem's or EnvironmentMetrics' sensor excerpt: where in `uri`'s body the reading is. */
  excerpt?: ExcerptAt
  /** An excerpt of a chassis' EnvironmentMetrics: numbered after every other reading of its kind. */
  environment?: true
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
  /** GETs that hold the system (power status) or the LED's resource for a poll cycle, as `RedfishSensor.sources`. */
  systemSources: string[]
  ledSources: string[]
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

/**
 * `$expand=.($levels=n)` (subordinate resources, not Links, n levels deep)
 * where the service offers it: NoLinks, and for n > 1 Levels with MaxLevels
 * at least n; else ''.
 */
export function expandLevels (root: Json, levels: number): string {
  const q = root.ProtocolFeaturesSupported?.ExpandQuery
  if (q?.NoLinks !== true || levels < 1) return ''
  if (levels > 1 && (q.Levels !== true || typeof q.MaxLevels !== 'number' || q.MaxLevels < levels)) return ''
  return `?$expand=.($levels=${levels})`
}

/** At most this many levels below the Chassis collection are asked for in one poll GET (a chassis' Sensors members; log entries stay out). */
const CHASSIS_POLL_LEVELS = 3
/** A chassis' log entries are this many levels below it (LogServices, a LogService, Entries, an entry). */
const LOG_ENTRY_LEVELS = 4
/** Levels below a ThermalSubsystem or PowerSubsystem walked for excerpts (PowerSubsystem/PowerSupplies/Bay1/Metrics is 3). */
const SUBSYSTEM_LEVELS = 3

/** How many URI segments `uri` is below `base` (-1: not below it). */
function depthBelow (uri: string, base: string): number {
  return uri.startsWith(base + '/') ? uri.slice(base.length + 1).split('#')[0].split('/').length : -1
}

/** A subsystem's or EnvironmentMetrics' excerpt as a reading; its DataSourceUri kept with its fields. */
function excerptFound (e: FoundExcerpt): Found {
  return { kind: e.kind, name: e.name, uri: e.uri, sources: [], excerpt: e.at, key: e.key, fields: e.source !== undefined ? { ...e.fields, DataSourceUri: e.source } : e.fields }
}

function hasLed (body: Json): boolean {
  return typeof body.LocationIndicatorActive === 'boolean' || typeof body.IndicatorLED === 'string'
}

export class Discovery {
  private readonly cmd: RedfishCommand
  private readonly limits: RedfishLimits
  private readonly leftOut: string[] = []
  private expand = ''
  private root: Json = {}

  constructor (cmd: RedfishCommand, limits: RedfishLimits) {
    this.cmd = cmd
    this.limits = limits
  }

  /** A collection's members as resources: inline where the answer expanded them, else one GET each (bounded). */
  private async members (uri: string, max: number): Promise<Json[]> {
    return (await this.membersInline(uri, max)).bodies
  }

  /**
   * GET with a $expand query; a service that refuses it (4xx, 501) is asked
   * without, and discovery asks it no $expand from then on.
   */
  private async getExpanded (uri: string, query: string): Promise<Json> {
    if (query === '') return await this.cmd.get(uri)
    try {
      return await this.cmd.get(uri + query)
    } catch (err) {
      if (!refused(err)) throw err
      const plain = await this.cmd.get(uri)
      // the resource is there: it was the query the service would not take
      this.expand = ''
      this.root = {}
      return plain
    }
  }

  /** The members, and which of them came inline (expanded) in the collection's answer. */
  private async membersInline (uri: string, max: number): Promise<{ bodies: Json[], inline: Set<string> }> {
    const collection = await this.getExpanded(uri, this.expand)
    const list = memberList(collection, max)
    const total = Array.isArray(collection.Members) ? collection.Members.length : 0
    if (total > list.length) this.leftOut.push(`${uri}: took ${list.length} of ${total} members`)
    const inline = new Set(list.filter((m) => Object.keys(m).length > 1).map((m) => odataId(m) as string))
    const bodies = await this.cmd.each(list, async (m) => (inline.has(odataId(m) as string) ? m : await this.cmd.get(odataId(m) as string)))
    return { bodies, inline }
  }

  async run (now: number): Promise<Inventory> {
    const root = await this.cmd.get('/redfish/v1/')
    this.root = { ...root }
    this.expand = expandQuery(root)
    const systemsUri = odataId(root.Systems)
    if (systemsUri === undefined) throw new OpenDcreError('unsupported', `${this.cmd.url} has no Systems collection`)
    const systems = (await this.members(systemsUri, Math.min(this.limits.maxMembers, ENCLOSURE_SLOT))).filter((s) => odataId(s) !== undefined)
    if (systems.length === 0) throw new OpenDcreError('not-found', `${this.cmd.url} lists no computer system`)
    systems.sort((a, b) => byUri(odataId(a) as string, odataId(b) as string))
    const systemUris = systems.map((s) => odataId(s) as string)

    // the chassis: the collection's, and any a system links that it did not list, up to max_chassis
    const chassisUris = odataId(root.Chassis) !== undefined ? await this.chassisLinks(odataId(root.Chassis) as string) : []
    const inCollection = new Set(chassisUris)
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

    const systemSources = this.expand !== '' ? [systemsUri + this.expand] : []
    const boards: RedfishBoard[] = systems.map((s, slot) => ({ slot, system: odataId(s) as string, chassis: [], led: hasLed(s) ? odataId(s) : undefined, systemSources, ledSources: hasLed(s) ? systemSources : [], sensors: [] }))
    const enclosures: RedfishBoard[] = []
    for (const uri of [...followed].sort(byUri)) {
      const served = [...(owners.get(uri) ?? [])]
      if (served.length === 0 && systems.length === 1) served.push(systemUris[0])
      let board: RedfishBoard
      if (served.length === 1) {
        board = boards[systemUris.indexOf(served[0])]
      } else {
        if (ENCLOSURE_SLOT + enclosures.length > MAX_SLOT) continue
        board = { slot: ENCLOSURE_SLOT + enclosures.length, chassis: [], systemSources: [], ledSources: [], sensors: [] }
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
    // every chassis' Sensors first: an excerpt elsewhere whose DataSourceUri is one of them is read there
    const fromSensors = new Map<string, Found[]>()
    await this.cmd.each(followed, async (uri) => {
      const sensorsUri = odataId(chassis.get(uri)?.Sensors)
      fromSensors.set(uri, sensorsUri !== undefined ? await this.sensorsCollection(sensorsUri) : [])
    })
    const known = new Set([...fromSensors.values()].flat().map((s) => s.uri.replace(/\/$/, '')))
    const found = new Map<string, Found[]>()
    await this.cmd.each(followed, async (uri) => {
      const body = chassis.get(uri) ?? {}
      const sensors = fromSensors.get(uri) ?? []
      if (sensors.length > 0) style = 'sensors'
      const legacy = await this.legacySensors(body, sensors)
      if (legacy.length > 0 && style === 'none') style = 'legacy'
      const excerpts: Found[] = []
      for (const sub of [odataId(body.ThermalSubsystem), odataId(body.PowerSubsystem)]) if (sub !== undefined) excerpts.push(...await this.subsystem(sub, known))
      found.set(uri, [...sensors, ...legacy, ...excerpts])
    })
    await this.environmentMetrics(followed, chassis, known, found)
    // one poll GET for every chassis' Sensors members and Thermal/Power: the Chassis collection, expanded as deep as they are
    const chassisCollection = odataId(root.Chassis)
    const deepest = Math.max(0, ...[...found.entries()].flatMap(([c, list]) => list.filter((s) => s.excerpt === undefined).map((s) => depthBelow(s.uri, c))))
    const query = deepest > 0 && deepest < CHASSIS_POLL_LEVELS ? expandLevels(this.root, deepest + 1) : ''
    const chassisSource = chassisCollection !== undefined && query !== '' ? chassisCollection + query : undefined
    // a chassis with subsystem readings: one GET of it expanded to its deepest reading, unless that would sweep in its log entries
    const ownSource = new Map<string, string>()
    for (const [uri, list] of found) {
      // (EnvironmentMetrics alone is no reason: the Chassis collection's GET holds it)
      if (!list.some((s) => s.excerpt !== undefined && s.environment !== true)) continue
      const depth = Math.max(...list.map((s) => depthBelow(s.uri, uri)))
      const q = expandLevels(this.root, depth)
      if (q !== '' && (depth < LOG_ENTRY_LEVELS || odataId(chassis.get(uri)?.LogServices) === undefined)) ownSource.set(uri, uri + q)
    }
    for (const board of all) {
      const list: Found[] = []
      for (const uri of board.chassis) {
        const first = [ownSource.get(uri), chassisSource !== undefined && inCollection.has(uri) ? chassisSource : undefined]
        for (const s of found.get(uri) ?? []) {
          // the Chassis collection's GET holds what is at most `deepest` below a chassis: its Sensors members, Thermal/Power, EnvironmentMetrics
          const before = first.filter((x): x is string => x !== undefined && (s.excerpt === undefined || s.environment === true || x !== chassisSource))
          list.push({ ...s, sources: [...before, ...s.sources] })
        }
      }
      board.sensors = this.numbered(list)
      if (board.led !== undefined && board.system === undefined && chassisSource !== undefined && inCollection.has(board.led)) board.ledSources = [chassisSource]
    }
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

  /** Stable ids: by kind, then by URI (and position), numbered from each kind's base; excerpts after the rest. */
  private numbered (found: Found[]): RedfishSensor[] {
    const out: RedfishSensor[] = []
    // Sensors and Thermal/Power first, subsystem excerpts after them: their ids stay what they were before excerpts were read
    // and EnvironmentMetrics excerpts after those: reading them moved no id
    const rank = (s: Found): number => (s.environment === true ? 2 : s.excerpt !== undefined ? 1 : 0)
    const excerptsLast = (a: Found, b: Found): number => rank(a) - rank(b) || byUri(a.key, b.key)
    for (const kind of KIND_ORDER) {
      const ofKind = found.filter((s) => s.kind === kind).sort(excerptsLast)
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
      found.push({ kind, name: String(sensor.Name ?? sensor.Id ?? id), uri: id, sources: expanded ? [uri + this.expand] : [], key: id, fields: keptFields(sensor) })
    }
    return found
  }

  /**
   * A ThermalSubsystem's or PowerSubsystem's excerpts not read from a
   * Sensor (`known`): the subsystem asked with $expand as deep as the
   * service allows (up to SUBSYSTEM_LEVELS), what it left as links fetched
   * level by level, at most max_members resources. Each reading's poll GET
   * is the subsystem expanded just as deep as its deepest reading.
   */
  private async subsystem (uri: string, known: Set<string>): Promise<Found[]> {
    const expandTo = (levels: number): string => {
      for (let n = levels; n > 1; n--) if (expandLevels(this.root, n) !== '') return expandLevels(this.root, n)
      return this.expand
    }
    const within = (id: string): boolean => id === uri || (depthBelow(id, uri) >= 1 && depthBelow(id, uri) <= SUBSYSTEM_LEVELS)
    const resources = new Map<string, Json>()
    let pending = [uri]
    for (let level = 0; level <= SUBSYSTEM_LEVELS && pending.length > 0; level++) {
      const room = this.limits.maxMembers - resources.size
      if (pending.length > room) this.leftOut.push(`${uri}: read ${this.limits.maxMembers} resources`)
      const answers = await this.cmd.each(pending.slice(0, Math.max(0, room)), async (u) => {
        try {
          return await this.getExpanded(u, expandTo(SUBSYSTEM_LEVELS - level))
        } catch (err) {
          // a link to nothing (404) leaves out what it would have held, not the whole discovery
          if (!refused(err)) throw err
          this.leftOut.push(`${u}: ${(err as Error).message}`)
          return undefined
        }
      })
      const bodies = answers.filter((b): b is Json => b !== undefined)
      for (const body of bodies) for (const [id, r] of resourcesIn(body, this.limits.maxMembers)) if (!resources.has(id) && within(id)) resources.set(id, r)
      pending = [...new Set(bodies.flatMap((b) => subordinateLinks(b, uri)))].filter((u) => !resources.has(u) && within(u))
    }
    const found: Found[] = []
    for (const resource of resources.values()) found.push(...excerptsOf(resource, known).map(excerptFound))
    const deepest = Math.max(0, ...found.map((f) => depthBelow(f.uri, uri)))
    const query = deepest > 0 ? expandLevels(this.root, deepest) : ''
    return query !== '' ? found.map((f) => ({ ...f, sources: [uri + query] })) : found
  }

  /**
   * Each chassis' EnvironmentMetrics (one GET; DSP0268 EnvironmentMetrics:
   * TemperatureCelsius, PowerWatts, EnergykWh, HumidityPercent,
   * FanSpeedsPercent[], ...): its excerpts whose DataSourceUri no reading
   * found so far holds (a Sensor of any chassis, a legacy member, a
   * subsystem excerpt) are added to the chassis' readings, each
   * DataSourceUri once, chassis in URI order. A link that fails (404, a
   * hang past timeout_ms, an answer that is no object) leaves out only what
   * it would have held.
   */
  private async environmentMetrics (followed: string[], chassis: Map<string, Json>, known: Set<string>, found: Map<string, Found[]>): Promise<void> {
    const bodies = new Map<string, Json>()
    await this.cmd.each(followed, async (uri) => {
      const link = odataId(chassis.get(uri)?.EnvironmentMetrics)
      if (link === undefined) return
      try {
        bodies.set(uri, await this.cmd.get(link))
      } catch (err) {
        if (!(err instanceof OpenDcreError)) throw err
        this.leftOut.push(`${link}: ${err.message}`)
      }
    })
    const covered = new Set(known)
    for (const list of found.values()) for (const s of list) if (typeof s.fields.DataSourceUri === 'string') covered.add(s.fields.DataSourceUri.replace(/\/$/, ''))
    for (const uri of [...bodies.keys()].sort(byUri)) {
      const excerpts = excerptsOf(bodies.get(uri) as Json, covered, 6, this.limits.maxMembers)
      // one device per DataSourceUri (its Reading and SpeedRPM): the first excerpt naming it
      const taken = new Map<string, string>()
      const fresh = excerpts.filter((e) => {
        if (e.source === undefined) return true
        const at = e.at.path.join('/')
        if (!taken.has(e.source)) taken.set(e.source, at)
        return taken.get(e.source) === at
      })
      for (const source of taken.keys()) covered.add(source)
      found.get(uri)?.push(...fresh.map((e) => ({ ...excerptFound(e), environment: true as const })))
    }
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
        found.push({ kind, name, uri, sources: [], legacy: { array, memberId, field }, key: odataId(m) ?? `${uri}#/${array}/${String(i).padStart(4, '0')}`, fields: keptFields(m) })
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
