import { createHash } from 'node:crypto'
import type { RedfishEmulatorConfig } from './emulator-config.js'
import { legacyThresholds, sensorHealth, sensorId, sensorThresholds } from './emulator-sensors.js'

/**
 * One emulated Redfish service's resources and state: what a BMC serves
 * under /redfish/v1 (DSP0266, the resource shapes of DSP2043's mockups and
 * bmcweb), computed from the state at each GET. Stateful like a BMC: Reset
 * changes PowerState (and the power readings), PATCHes persist, ETags follow
 * the content, readings drift with the (injected) clock.
 */

export interface RedfishAnswer {
  status: number
  body?: unknown
  headers?: Record<string, string>
}

type Json = Record<string, unknown>

const ROOT = '/redfish/v1'
const SYSTEM = `${ROOT}/Systems/1`
const CHASSIS = `${ROOT}/Chassis/1`
const MANAGER = `${ROOT}/Managers/1`
const EVENT_LOG = `${SYSTEM}/LogServices/EventLog`

const ALL_RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton', 'PowerCycle']
const BOOT_TARGETS = ['None', 'Pxe', 'Hdd', 'Cd', 'Usb', 'BiosSetup']
const BOOT_ENABLED = ['Disabled', 'Once', 'Continuous']
const INDICATOR_LED = ['Lit', 'Blinking', 'Off']

const SENSOR_UNITS = {
  temperature: { readingType: 'Temperature', units: 'Cel' },
  fan: { readingType: 'Rotational', units: 'RPM' },
  voltage: { readingType: 'Voltage', units: 'V' },
  current: { readingType: 'Current', units: 'A' },
  power: { readingType: 'Power', units: 'W' }
} as const

/** One entry of the emulated event log (the EventService pushes each as it is added). */
export interface EventEntry {
  id: number
  created: string
  message: string
  sensor?: string
  sensorType?: string
  severity: string
  direction: 'asserted' | 'deasserted'
}

/** A Redfish error body (DSP0266 §9.6 "Error responses"). */
export function redfishError (status: number, messageId: string, message: string): RedfishAnswer {
  return {
    status,
    body: {
      error: {
        code: `Base.1.13.${messageId}`,
        message,
        '@Message.ExtendedInfo': [{ '@odata.type': '#Message.v1_1_1.Message', MessageId: `Base.1.13.${messageId}`, Message: message, Severity: 'Warning', Resolution: 'See the request and the resource.' }]
      }
    }
  }
}

function etagOf (body: unknown): string {
  return `W/"${createHash('sha1').update(JSON.stringify(body)).digest('hex').slice(0, 16)}"`
}

interface EmulatorServiceOptions {
  /** Milliseconds since the epoch (tests inject a fixed clock). */
  now?: () => number
  /** This server's ordinal (1-based) among several: serial numbers and drift phases differ. */
  ordinal?: number
}

export class RedfishEmulatorService {
  readonly config: RedfishEmulatorConfig
  private readonly now: () => number
  private readonly ordinal: number
  powerState: 'On' | 'Off'
  /** The identify LED: Lit, Blinking or Off (LocationIndicatorActive is true unless Off). */
  private indicatorLed = 'Off'
  private boot = { target: 'None', enabled: 'Disabled', mode: 'UEFI' }
  private assetTag: string
  private readonly events: EventEntry[] = []
  /** Readings pinned by fault injection (setReading), by sensor index. */
  private readonly pinned = new Map<number, number>()
  private nextEventId = 1
  /** Told of every entry added to the event log (the EventService's SSE stream). */
  onLogEntry?: (entry: EventEntry) => void
  /** Counts of the requests answered, by method (tests read them). */
  readonly requests = { GET: 0, POST: 0, PATCH: 0, DELETE: 0 }

  constructor (config: RedfishEmulatorConfig, options: EmulatorServiceOptions = {}) {
    this.config = config
    this.now = options.now ?? Date.now
    this.ordinal = options.ordinal ?? 1
    this.powerState = config.system.power_state ?? 'On'
    this.assetTag = config.system.asset_tag ?? ''
    for (const e of config.events ?? []) this.logEvent(e.message, e.severity, e.direction ?? 'asserted', e.sensor, e.sensor_type)
  }

  get style (): 'sensors' | 'legacy' | 'both' {
    return this.config.sensor_style ?? 'both'
  }

  get resetTypes (): string[] {
    return this.config.reset_types ?? ALL_RESET_TYPES
  }

  get sessionService (): boolean {
    return this.config.session_service ?? true
  }

  private serial (text: string): string {
    return this.ordinal === 1 ? text : `${text}-${this.ordinal}`
  }

  /** Adds an entry to the event log (fault injection adds any); the EventService pushes it (onLogEntry). */
  logEvent (message: string, severity: string, direction: 'asserted' | 'deasserted', sensor?: string, sensorType?: string): EventEntry {
    const entry: EventEntry = { id: this.nextEventId++, created: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, '+00:00'), message, severity, direction, sensor, sensorType }
    this.events.push(entry)
    this.onLogEntry?.(entry)
    return entry
  }

  /** A sensor's reading now: the configured value (or its off value) plus a slow drift. */
  reading (index: number): number {
    const pinned = this.pinned.get(index)
    if (pinned !== undefined) return pinned
    const sensor = this.config.sensors[index]
    const on = this.powerState === 'On'
    const base = on ? sensor.reading : sensor.off_reading ?? (sensor.type === 'fan' || sensor.type === 'current' || sensor.type === 'power' ? 0 : sensor.reading)
    const drift = on ? sensor.drift ?? 0 : 0
    const phase = (index * 1.7 + this.ordinal * 0.9)
    const value = base + drift * Math.sin(this.now() / 20_000 + phase)
    return sensor.type === 'fan' ? Math.round(value) : Math.round(value * 100) / 100
  }

  /**
   * GET: the resource at `path`, with its ETag. `expand` ($expand=. or *,
   * DSP0266 §7.3.1, one level): a collection's members come whole.
   */
  get (path: string, expand = false): RedfishAnswer {
    const body = this.resource(path)
    if (body === undefined) return redfishError(404, 'ResourceNotFound', `The resource at ${path} was not found.`)
    if (expand && Array.isArray(body.Members)) {
      body.Members = (body.Members as Json[]).map((m) => (typeof m['@odata.id'] === 'string' && Object.keys(m).length === 1 ? this.resource(m['@odata.id']) ?? m : m))
    }
    const etag = etagOf(body)
    if (path === SYSTEM || path === CHASSIS) body['@odata.etag'] = etag
    return { status: 200, body, headers: { etag } }
  }

  /** The ETag a PATCH's If-Match is compared with. */
  etag (path: string): string | undefined {
    const body = this.resource(path)
    return body === undefined ? undefined : etagOf(body)
  }

  private resource (path: string): Json | undefined {
    const p = path.replace(/\/$/, '')
    const sensorBase = `${CHASSIS}/Sensors/`
    if (p.startsWith(sensorBase) && this.style !== 'legacy') return this.sensor(p.slice(sensorBase.length))
    const entryBase = `${EVENT_LOG}/Entries/`
    if (p.startsWith(entryBase)) {
      const entry = this.events.find((e) => String(e.id) === p.slice(entryBase.length))
      return entry === undefined ? undefined : this.logEntry(entry)
    }
    switch (p) {
      case '/redfish': return { v1: `${ROOT}/` }
      case ROOT: return this.serviceRoot()
      case `${ROOT}/Systems`: return collection(`${ROOT}/Systems`, 'ComputerSystemCollection', 'Computer System Collection', [SYSTEM])
      case SYSTEM: return this.system()
      case `${SYSTEM}/ResetActionInfo`: return {
        '@odata.id': `${SYSTEM}/ResetActionInfo`,
        '@odata.type': '#ActionInfo.v1_1_2.ActionInfo',
        Id: 'ResetActionInfo',
        Name: 'Reset Action Info',
        Parameters: [{ Name: 'ResetType', Required: true, DataType: 'String', AllowableValues: this.resetTypes }]
      }
      case `${SYSTEM}/LogServices`: return collection(`${SYSTEM}/LogServices`, 'LogServiceCollection', 'System Log Services', [EVENT_LOG])
      case EVENT_LOG: return {
        '@odata.id': EVENT_LOG,
        '@odata.type': '#LogService.v1_2_0.LogService',
        Id: 'EventLog',
        Name: 'System Event Log',
        OverWritePolicy: 'WrapsWhenFull',
        Entries: { '@odata.id': `${EVENT_LOG}/Entries` }
      }
      case `${EVENT_LOG}/Entries`: return {
        '@odata.id': `${EVENT_LOG}/Entries`,
        '@odata.type': '#LogEntryCollection.LogEntryCollection',
        Name: 'System Event Log Entries',
        'Members@odata.count': this.events.length,
        Members: this.events.map((e) => this.logEntry(e))
      }
      case `${ROOT}/Chassis`: return collection(`${ROOT}/Chassis`, 'ChassisCollection', 'Chassis Collection', [CHASSIS])
      case CHASSIS: return this.chassis()
      case `${CHASSIS}/Thermal`: return this.style === 'sensors' ? undefined : this.thermal()
      case `${CHASSIS}/Power`: return this.style === 'sensors' ? undefined : this.power()
      case `${CHASSIS}/Sensors`: return this.style === 'legacy'
        ? undefined
        : collection(`${CHASSIS}/Sensors`, 'SensorCollection', 'Sensors', this.config.sensors.map((s) => `${CHASSIS}/Sensors/${sensorId(s.name)}`))
      case `${ROOT}/Managers`: return collection(`${ROOT}/Managers`, 'ManagerCollection', 'Manager Collection', [MANAGER])
      case MANAGER: return {
        '@odata.id': MANAGER,
        '@odata.type': '#Manager.v1_11_0.Manager',
        Id: '1',
        Name: 'Manager',
        ManagerType: 'BMC',
        Model: this.config.manager.model ?? 'Emulated BMC',
        FirmwareVersion: this.config.manager.firmware_version,
        Status: { State: 'Enabled', Health: 'OK' },
        Links: { ManagerForServers: [{ '@odata.id': SYSTEM }], ManagerForChassis: [{ '@odata.id': CHASSIS }] }
      }
      case `${ROOT}/SessionService`: return this.sessionService
        ? {
            '@odata.id': `${ROOT}/SessionService`,
            '@odata.type': '#SessionService.v1_1_8.SessionService',
            Id: 'SessionService',
            Name: 'Session Service',
            ServiceEnabled: true,
            SessionTimeout: this.config.session_timeout_s ?? 1800,
            Sessions: { '@odata.id': `${ROOT}/SessionService/Sessions` }
          }
        : undefined
    }
    return undefined
  }

  private serviceRoot (): Json {
    const root: Json = {
      '@odata.id': `${ROOT}/`,
      '@odata.type': '#ServiceRoot.v1_11_0.ServiceRoot',
      Id: 'RootService',
      Name: 'Root Service',
      RedfishVersion: '1.15.0',
      UUID: `6e5b1f4c-0d1a-4c3e-9a7f-${(0x100000000000 + this.ordinal).toString(16).slice(-12)}`,
      Product: 'OpenDCRE Redfish BMC emulator',
      Vendor: 'OpenDCRE',
      Systems: { '@odata.id': `${ROOT}/Systems` },
      Chassis: { '@odata.id': `${ROOT}/Chassis` },
      Managers: { '@odata.id': `${ROOT}/Managers` },
      ProtocolFeaturesSupported: { ExpandQuery: { ExpandAll: true, Levels: true, MaxLevels: 1, Links: false, NoLinks: true } },
      Links: {}
    }
    if (this.config.event_service ?? true) root.EventService = { '@odata.id': `${ROOT}/EventService` }
    if (this.sessionService) {
      root.SessionService = { '@odata.id': `${ROOT}/SessionService` }
      root.Links = { Sessions: { '@odata.id': `${ROOT}/SessionService/Sessions` } }
    }
    return root
  }

  private system (): Json {
    const s = this.config.system
    const body: Json = {
      '@odata.id': SYSTEM,
      '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
      Id: '1',
      Name: 'System',
      SystemType: 'Physical',
      Manufacturer: s.manufacturer,
      Model: s.model,
      SerialNumber: this.serial(s.serial_number),
      PartNumber: s.part_number,
      AssetTag: this.assetTag,
      BiosVersion: s.bios_version ?? '1.0.0',
      PowerState: this.powerState,
      Status: { State: 'Enabled', Health: 'OK' },
      Boot: {
        BootSourceOverrideEnabled: this.boot.enabled,
        BootSourceOverrideTarget: this.boot.target,
        BootSourceOverrideMode: this.boot.mode,
        'BootSourceOverrideTarget@Redfish.AllowableValues': BOOT_TARGETS
      },
      LogServices: { '@odata.id': `${SYSTEM}/LogServices` },
      Links: { Chassis: [{ '@odata.id': CHASSIS }], ManagedBy: [{ '@odata.id': MANAGER }] },
      Actions: {
        '#ComputerSystem.Reset': {
          target: `${SYSTEM}/Actions/ComputerSystem.Reset`,
          '@Redfish.ActionInfo': `${SYSTEM}/ResetActionInfo`,
          'ResetType@Redfish.AllowableValues': this.resetTypes
        }
      }
    }
    const indicator = this.config.indicator ?? 'both'
    if (indicator !== 'IndicatorLED') body.LocationIndicatorActive = this.indicatorLed !== 'Off'
    if (indicator !== 'LocationIndicatorActive') body.IndicatorLED = this.indicatorLed
    return body
  }

  private chassis (): Json {
    const c = this.config.chassis
    const body: Json = {
      '@odata.id': CHASSIS,
      '@odata.type': '#Chassis.v1_14_0.Chassis',
      Id: '1',
      Name: 'Chassis',
      ChassisType: c.chassis_type,
      Manufacturer: c.manufacturer,
      Model: c.model,
      SerialNumber: this.serial(c.serial_number),
      PartNumber: c.part_number,
      PowerState: this.powerState,
      Status: { State: 'Enabled', Health: 'OK' },
      Links: { ComputerSystems: [{ '@odata.id': SYSTEM }], ManagedBy: [{ '@odata.id': MANAGER }] }
    }
    const l = c.location
    if (l !== undefined) {
      const placement: Json = {}
      if (l.rack !== undefined) placement.Rack = l.rack
      if (l.row !== undefined) placement.Row = l.row
      if (l.rack_offset !== undefined) { placement.RackOffset = l.rack_offset; placement.RackOffsetUnits = 'EIA_310' }
      body.Location = { Placement: placement, PartLocation: { ServiceLabel: l.service_label ?? '', LocationType: 'Slot' } }
    }
    if (this.style !== 'legacy') body.Sensors = { '@odata.id': `${CHASSIS}/Sensors` }
    if (this.style !== 'sensors') {
      body.Thermal = { '@odata.id': `${CHASSIS}/Thermal` }
      body.Power = { '@odata.id': `${CHASSIS}/Power` }
    }
    return body
  }

  private sensor (id: string): Json | undefined {
    const index = this.config.sensors.findIndex((s) => sensorId(s.name) === id)
    if (index < 0) return undefined
    const s = this.config.sensors[index]
    const units = SENSOR_UNITS[s.type]
    return {
      '@odata.id': `${CHASSIS}/Sensors/${id}`,
      '@odata.type': '#Sensor.v1_2_0.Sensor',
      Id: id,
      Name: s.name,
      Reading: this.reading(index),
      ReadingType: units.readingType,
      ReadingUnits: units.units,
      Status: { State: 'Enabled', Health: sensorHealth(this.reading(index), s.thresholds) },
      ...(s.thresholds === undefined ? {} : { Thresholds: sensorThresholds(s.thresholds) })
    }
  }

  /**
   * Fault injection: pins a sensor's reading (null: drifts again); crossing
   * one of its thresholds logs an event, as a BMC does.
   */
  setReading (name: string, value: number | null): void {
    const index = this.config.sensors.findIndex((s) => s.name === name)
    if (index < 0) throw new RangeError(`no sensor ${name}`)
    const before = sensorHealth(this.reading(index), this.config.sensors[index].thresholds)
    if (value === null) this.pinned.delete(index)
    else this.pinned.set(index, value)
    const after = sensorHealth(this.reading(index), this.config.sensors[index].thresholds)
    if (after !== before) {
      const s = this.config.sensors[index]
      this.logEvent(`${s.name} reading ${this.reading(index)} is ${after === 'OK' ? 'back within its thresholds' : `past its ${after === 'Critical' ? 'critical' : 'caution'} threshold`}`,
        after, after === 'OK' ? 'deasserted' : 'asserted', s.name, SENSOR_UNITS[s.type].readingType)
    }
  }

  private thermal (): Json {
    const temps: Json[] = []
    const fans: Json[] = []
    this.config.sensors.forEach((s, i) => {
      if (s.type === 'temperature') {
        temps.push({ '@odata.id': `${CHASSIS}/Thermal#/Temperatures/${temps.length}`, MemberId: String(temps.length), Name: s.name, ReadingCelsius: this.reading(i), ...legacyThresholds(s.thresholds), Status: { State: 'Enabled', Health: sensorHealth(this.reading(i), s.thresholds) } })
      } else if (s.type === 'fan') {
        fans.push({ '@odata.id': `${CHASSIS}/Thermal#/Fans/${fans.length}`, MemberId: String(fans.length), Name: s.name, Reading: this.reading(i), ReadingUnits: 'RPM', ...legacyThresholds(s.thresholds), Status: { State: 'Enabled', Health: sensorHealth(this.reading(i), s.thresholds) } })
      }
    })
    return { '@odata.id': `${CHASSIS}/Thermal`, '@odata.type': '#Thermal.v1_7_0.Thermal', Id: 'Thermal', Name: 'Thermal', Temperatures: temps, Fans: fans }
  }

  private power (): Json {
    const control: Json[] = []
    const voltages: Json[] = []
    const supplies: Json[] = []
    this.config.sensors.forEach((s, i) => {
      if (s.type === 'power') {
        control.push({ '@odata.id': `${CHASSIS}/Power#/PowerControl/${control.length}`, MemberId: String(control.length), Name: s.name, PowerConsumedWatts: this.reading(i) })
      } else if (s.type === 'voltage') {
        voltages.push({ '@odata.id': `${CHASSIS}/Power#/Voltages/${voltages.length}`, MemberId: String(voltages.length), Name: s.name, ReadingVolts: this.reading(i), ...legacyThresholds(s.thresholds), Status: { State: 'Enabled', Health: sensorHealth(this.reading(i), s.thresholds) } })
      } else if (s.type === 'current') {
        // the legacy Power resource has no current array: a supply's input current is its nearest home
        supplies.push({ '@odata.id': `${CHASSIS}/Power#/PowerSupplies/${supplies.length}`, MemberId: String(supplies.length), Name: s.name, Oem: { OpenDCRE: { InputCurrentAmps: this.reading(i) } } })
      }
    })
    return { '@odata.id': `${CHASSIS}/Power`, '@odata.type': '#Power.v1_6_0.Power', Id: 'Power', Name: 'Power', PowerControl: control, Voltages: voltages, PowerSupplies: supplies }
  }

  private logEntry (e: EventEntry): Json {
    const entry: Json = {
      '@odata.id': `${EVENT_LOG}/Entries/${e.id}`,
      '@odata.type': '#LogEntry.v1_9_0.LogEntry',
      Id: String(e.id),
      Name: 'Log Entry',
      EntryType: 'Event',
      Created: e.created,
      Message: e.message,
      Severity: e.severity,
      EntryCode: e.direction === 'asserted' ? 'Assert' : 'Deassert'
    }
    if (e.sensor !== undefined) entry.SensorNumber = this.config.sensors.findIndex((s) => s.name === e.sensor) + 1
    if (e.sensorType !== undefined) entry.SensorType = e.sensorType
    if (e.sensor !== undefined) entry.Oem = { OpenDCRE: { SensorName: e.sensor } }
    // the Sensor the event is about, as the Event's OriginOfCondition (emulator-events.ts)
    if (e.sensor !== undefined) entry.Links = { OriginOfCondition: { '@odata.id': `${CHASSIS}/Sensors/${sensorId(e.sensor)}` } }
    return entry
  }

  /** POST /Systems/1/Actions/ComputerSystem.Reset {ResetType}. */
  reset (body: unknown): RedfishAnswer {
    const type = (body as { ResetType?: unknown } | null)?.ResetType
    if (typeof type !== 'string') return redfishError(400, 'ActionParameterMissing', 'The action ComputerSystem.Reset requires the parameter ResetType.')
    if (!this.resetTypes.includes(type)) {
      return redfishError(400, 'ActionParameterValueNotInList', `The value ${type} for the parameter ResetType is not in the list of acceptable values.`)
    }
    const before = this.powerState
    if (type === 'On' || type === 'ForceOn') this.powerState = 'On'
    else if (type === 'ForceOff' || type === 'GracefulShutdown') this.powerState = 'Off'
    else if (type === 'PushPowerButton') this.powerState = before === 'On' ? 'Off' : 'On'
    else if (type === 'PowerCycle' || type === 'ForceRestart' || type === 'GracefulRestart') this.powerState = 'On'
    this.logEvent(`System reset: ${type} (power ${before} -> ${this.powerState})`, 'OK', 'asserted', undefined, 'System Event')
    return { status: 204 }
  }

  /** PATCH: writable properties of the system and chassis; anything else is refused as a BMC would. */
  patch (path: string, body: unknown): RedfishAnswer {
    const p = path.replace(/\/$/, '')
    if (p !== SYSTEM && p !== CHASSIS) {
      return this.resource(p) === undefined ? redfishError(404, 'ResourceNotFound', `The resource at ${path} was not found.`) : redfishError(405, 'OperationNotAllowed', 'PATCH is not allowed here.')
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return redfishError(400, 'MalformedJSON', 'The request body is not a JSON object.')
    const changes: Array<() => void> = []
    for (const [key, value] of Object.entries(body)) {
      const indicator = this.config.indicator ?? 'both'
      if (key === 'IndicatorLED' && indicator !== 'LocationIndicatorActive') {
        if (typeof value !== 'string' || !INDICATOR_LED.includes(value)) return redfishError(400, 'PropertyValueNotInList', `The value ${String(value)} for IndicatorLED is not in the list of acceptable values.`)
        changes.push(() => { this.indicatorLed = value })
      } else if (key === 'LocationIndicatorActive' && indicator !== 'IndicatorLED') {
        if (typeof value !== 'boolean') return redfishError(400, 'PropertyValueTypeError', 'LocationIndicatorActive must be a boolean.')
        changes.push(() => { this.indicatorLed = value ? 'Lit' : 'Off' })
      } else if (key === 'AssetTag' && p === SYSTEM) {
        if (typeof value !== 'string') return redfishError(400, 'PropertyValueTypeError', 'AssetTag must be a string.')
        changes.push(() => { this.assetTag = value })
      } else if (key === 'Boot' && p === SYSTEM && typeof value === 'object' && value !== null) {
        for (const [bootKey, bootValue] of Object.entries(value)) {
          const allowed = bootKey === 'BootSourceOverrideTarget' ? BOOT_TARGETS : bootKey === 'BootSourceOverrideEnabled' ? BOOT_ENABLED : bootKey === 'BootSourceOverrideMode' ? ['UEFI', 'Legacy'] : undefined
          if (allowed === undefined) return redfishError(400, 'PropertyUnknown', `The property Boot/${bootKey} is not in the list of valid properties.`)
          if (typeof bootValue !== 'string' || !allowed.includes(bootValue)) return redfishError(400, 'PropertyValueNotInList', `The value ${String(bootValue)} for Boot/${bootKey} is not in the list of acceptable values.`)
          changes.push(() => {
            if (bootKey === 'BootSourceOverrideTarget') this.boot.target = bootValue
            else if (bootKey === 'BootSourceOverrideEnabled') this.boot.enabled = bootValue
            else this.boot.mode = bootValue
          })
        }
      } else {
        return redfishError(400, 'PropertyUnknown', `The property ${key} is not in the list of valid properties for the resource.`)
      }
    }
    for (const change of changes) change()
    return { status: 204 }
  }
}

function collection (id: string, type: string, name: string, members: string[]): Json {
  return {
    '@odata.id': id,
    '@odata.type': `#${type}.${type}`,
    Name: name,
    'Members@odata.count': members.length,
    Members: members.map((m) => ({ '@odata.id': m }))
  }
}
