import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { fixture } from '../helper.js'

/**
 * A DMTF mockup (DSP2043, test/fixtures/redfish-mockups/) served as a live
 * service on loopback, port 0: GET with ETags and If-None-Match, $expand
 * as DSP0266 §7.3.1 has it (`.` subordinate links, `~` links in Links
 * properties, `*` all, `$levels=n` deep) as the mockups'
 * ProtocolFeaturesSupported offers (`expand: 'ignore'` answers as if no
 * query were asked, `'refuse'` answers 400), PATCH merged into the
 * resource (If-Match checked), and ComputerSystem.Reset acted on
 * (PowerState changes, within the action's allowable values). It counts
 * every request, and `routes` lets a test answer a path its own way (a
 * hostile service).
 */

export type Json = Record<string, any>

export interface MockupServer {
  url: string
  /** Requests received, by method and path (query included), and the bytes of each answer's body. */
  requests: Array<{ method: string, path: string, bytes?: number }>
  /** The resource at a path (as changed by PATCH and POST). */
  resource: (path: string) => Json | undefined
  /** Paths this test answers itself. */
  routes: Map<string, (req: IncomingMessage, res: ServerResponse) => void>
  /** How $expand is answered from now on. */
  expand: ExpandMode
  close: () => Promise<void>
}

export const MOCKUPS = ['public-bladed', 'public-catfish', 'public-liquid-cooled-server', 'public-telemetry', 'public-tower'] as const

const etagOf = (body: unknown): string => `W/"${createHash('sha1').update(JSON.stringify(body)).digest('hex').slice(0, 16)}"`

function merge (target: Json, patch: Json): void {
  for (const [k, v] of Object.entries(patch)) {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof target[k] === 'object' && target[k] !== null) merge(target[k], v)
    else target[k] = v
  }
}

const POWER_AFTER: Record<string, string> = {
  On: 'On', ForceOn: 'On', PushPowerButton: '', ForceOff: 'Off', GracefulShutdown: 'Off', PowerCycle: 'On', ForceRestart: 'On', GracefulRestart: 'On', Nmi: ''
}

/** How the server treats $expand: as the spec says, as if it were not there, or with a 400. */
export type ExpandMode = 'spec' | 'ignore' | 'refuse'

/**
 * `body` with its links expanded `levels` deep (a copy; the stored resources
 * are not changed): `.` every link-only object outside Links properties,
 * `~` those inside them, `*` both.
 */
export function expanded (body: unknown, type: string, levels: number, load: (path: string) => Json | undefined, inLinks = false): unknown {
  if (Array.isArray(body)) return body.map((v) => expanded(v, type, levels, load, inLinks))
  if (typeof body !== 'object' || body === null) return body
  const obj = body as Json
  const id = obj['@odata.id']
  const wanted = type === '*' || (type === '.' && !inLinks) || (type === '~' && inLinks)
  if (typeof id === 'string' && Object.keys(obj).length === 1 && levels > 0 && wanted && !id.includes('#')) {
    const target = load(id)
    if (target !== undefined) return expanded(target, type, levels - 1, load, false)
  }
  const out: Json = {}
  for (const [k, v] of Object.entries(obj)) out[k] = expanded(v, type, levels, load, inLinks || k === 'Links')
  return out
}

export async function serveMockup (name: string, options: { expand?: ExpandMode } = {}): Promise<MockupServer> {
  const dir = fixture(`redfish-mockups/${name}`)
  const resources = new Map<string, Json>()
  const load = (path: string): Json | undefined => {
    const clean = path.replace(/\/$/, '')
    if (resources.has(clean)) return resources.get(clean)
    if (!clean.startsWith('/redfish/v1')) return undefined
    const file = join(dir, clean.slice('/redfish/v1'.length), 'index.json')
    if (clean.includes('..') || !existsSync(file)) return undefined
    const body = JSON.parse(readFileSync(file, 'utf8')) as Json
    resources.set(clean, body)
    return body
  }
  const requests: MockupServer['requests'] = []
  const routes: MockupServer['routes'] = new Map()
  const mockup: MockupServer = {
    url: '',
    requests,
    resource: load,
    routes,
    expand: options.expand ?? 'spec',
    close: async () => await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
  const server: Server = createServer((req, res) => {
    let text = ''
    req.on('data', (d) => { text += String(d) })
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x')
      const path = url.pathname.replace(/\/$/, '')
      const record: MockupServer['requests'][number] = { method: req.method ?? '', path: path + url.search }
      requests.push(record)
      const own = routes.get(path)
      if (own !== undefined) return own(req, res)
      const send = (status: number, answer?: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { ...(answer !== undefined ? { 'content-type': 'application/json' } : {}), ...headers })
        const text = answer !== undefined ? JSON.stringify(answer) : undefined
        record.bytes = text?.length ?? 0
        res.end(text)
      }
      const missing = (): void => send(404, { error: { code: 'Base.1.8.ResourceMissingAtURI', message: `${path} not found` } })
      if (req.method === 'GET') {
        const resource = load(path)
        if (resource === undefined) return missing()
        let body: Json = resource
        const expand = url.searchParams.get('$expand')
        if (expand !== null && mockup.expand !== 'ignore') {
          const query = /^([.*~])(?:\(\$levels=(\d+)\))?$/.exec(expand)
          const maxLevels = Number(load('/redfish/v1')?.ProtocolFeaturesSupported?.ExpandQuery?.MaxLevels ?? 1)
          const levels = Number(query?.[2] ?? 1)
          if (mockup.expand === 'refuse' || query === null || levels > maxLevels) {
            return send(400, { error: { code: 'Base.1.8.QueryNotSupported', message: `$expand=${expand} is not supported` } })
          }
          body = expanded(resource, query[1], levels, load) as Json
        }
        const etag = etagOf(body)
        if (req.headers['if-none-match'] === etag) {
          send(304, undefined, { etag })
          // what the answer weighs when it has changed
          record.bytes = JSON.stringify(body).length
          return
        }
        return send(200, body, { etag })
      }
      let body: Json
      try {
        body = text === '' ? {} : JSON.parse(text)
      } catch {
        return send(400, { error: { code: 'Base.1.8.MalformedJSON', message: 'malformed JSON' } })
      }
      if (req.method === 'PATCH') {
        const resource = load(path)
        if (resource === undefined) return missing()
        const ifMatch = req.headers['if-match']
        if (ifMatch !== undefined && ifMatch !== etagOf(resource)) return send(412, { error: { code: 'Base.1.8.PreconditionFailed', message: 'ETag mismatch' } })
        merge(resource, body)
        return send(204)
      }
      if (req.method === 'POST' && path.endsWith('/Actions/ComputerSystem.Reset')) {
        const system = load(path.slice(0, -'/Actions/ComputerSystem.Reset'.length))
        if (system === undefined) return missing()
        const allowed: unknown = system.Actions?.['#ComputerSystem.Reset']?.['ResetType@Redfish.AllowableValues']
        const type = String(body.ResetType)
        if (!(type in POWER_AFTER) || (Array.isArray(allowed) && !allowed.includes(type))) {
          return send(400, { error: { code: 'Base.1.8.ActionParameterValueNotInList', message: `ResetType ${type} not allowed` } })
        }
        const after = POWER_AFTER[type] !== '' ? POWER_AFTER[type] : system.PowerState === 'On' ? 'Off' : 'On'
        system.PowerState = after
        return send(204)
      }
      send(405, { error: { code: 'Base.1.8.OperationNotAllowed', message: `${req.method ?? ''} ${path} not allowed` } })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  mockup.url = `http://127.0.0.1:${port}`
  return mockup
}

const link = (v: unknown): string => String((v as Json)['@odata.id'])

/** Every resource file under `uri` in the mockup (by walking its folders), as paths. */
function filesUnder (name: string, uri: string): string[] {
  const dir = fixture(`redfish-mockups/${name}`)
  const out: string[] = []
  const walk = (rel: string): void => {
    const full = join(dir, rel)
    if (existsSync(join(full, 'index.json'))) out.push(`/redfish/v1${rel}`)
    for (const entry of readdirSync(full, { withFileTypes: true })) if (entry.isDirectory()) walk(`${rel}/${entry.name}`)
  }
  if (existsSync(join(dir, uri.slice('/redfish/v1'.length)))) walk(uri.slice('/redfish/v1'.length))
  return out
}

/**
 * The readings a ThermalSubsystem or PowerSubsystem holds as sensor
 * excerpts (objects with a Reading) whose DataSourceUri is no Sensor of the
 * mockup: named "<resource Name> <property path>" (array positions from 1)
 * or by DeviceName, a SpeedRPM beside as "<name> RPM", watt-hours as kWh.
 */
function subsystemReadings (svc: Pick<MockupServer, 'resource'>, name: string, uri: string, sensorUris: Set<string>): Reading[] {
  const out: Reading[] = []
  for (const path of filesUnder(name, uri)) out.push(...excerptReadings(svc.resource(path) as Json, sensorUris))
  return out
}

interface Reading { name: string, value: number | null, source?: string }

/** A resource's sensor excerpts (objects with a Reading, outside Links, Actions, Oem) whose DataSourceUri is not in `sensorUris`. */
function excerptReadings (resource: Json, sensorUris: Set<string>): Reading[] {
  const out: Reading[] = []
  const walk = (v: unknown, at: Array<string | number>): void => {
    if (Array.isArray(v)) return v.forEach((item, i) => walk(item, [...at, i]))
    if (typeof v !== 'object' || v === null) return
    const obj = v as Json
    if (at.length > 0 && 'Reading' in obj) {
      if (typeof obj.DataSourceUri === 'string' && sensorUris.has(obj.DataSourceUri)) return
      const label = typeof obj.DeviceName === 'string' ? obj.DeviceName : `${String(resource.Name)} ${at.map((p) => (typeof p === 'number' ? p + 1 : p)).join(' ')}`
      const wh = at.some((p) => typeof p === 'string' && p.endsWith('WattHours'))
      const source = typeof obj.DataSourceUri === 'string' ? { source: obj.DataSourceUri } : {}
      out.push({ name: label, value: typeof obj.Reading === 'number' ? (wh ? obj.Reading / 1000 : obj.Reading) : null, ...source })
      if ('SpeedRPM' in obj) out.push({ name: `${label} RPM`, value: obj.SpeedRPM, ...source })
      return
    }
    // PowerLimitWatts is a Control (a setting); AbsoluteHumidity (g/m³) has no device type
    for (const [k, item] of Object.entries(obj)) if (!['Links', 'Actions', 'Oem', 'PowerLimitWatts', 'AbsoluteHumidity'].includes(k) && !k.includes('@')) walk(item, [...at, k])
  }
  walk(resource, [])
  return out
}

/** What the mockup's files say: systems, and each sensor's (name, reading) with the chassis it is in. */
export function corpus (svc: Pick<MockupServer, 'resource'>, name?: string): { systems: string[], sensors: Array<{ chassis: string, name: string, value: number | null }> } {
  const root = svc.resource('/redfish/v1') as Json
  const systems = (svc.resource(link(root.Systems)) as Json).Members.map(link)
  const sensors: Array<{ chassis: string, name: string, value: number | null, source?: string }> = []
  const chassisList: string[] = (svc.resource(link(root.Chassis)) as Json).Members.map(link)
  const sensorUris = new Set<string>()
  for (const chassisUri of chassisList) {
    const chassis = svc.resource(chassisUri) as Json
    if (chassis.Sensors !== undefined) for (const m of (svc.resource(link(chassis.Sensors)) as Json).Members) if (svc.resource(link(m)) !== undefined) sensorUris.add(link(m))
  }
  for (const chassisUri of chassisList) {
    const chassis = svc.resource(chassisUri) as Json
    const kinds = new Set<string>()
    if (chassis.Sensors !== undefined) {
      for (const m of (svc.resource(link(chassis.Sensors)) as Json).Members) {
        const s = svc.resource(link(m)) as Json
        sensors.push({ chassis: chassisUri, name: s.Name, value: typeof s.Reading === 'number' ? s.Reading : null })
        kinds.add(s.ReadingUnits === 'Cel' || s.ReadingType === 'Temperature' ? 'Temperatures' : s.ReadingUnits === 'RPM' ? 'Fans' : s.ReadingUnits === 'V' ? 'Voltages' : s.ReadingUnits === 'W' ? 'Power' : '')
      }
    }
    // the legacy resources' members, where the Sensors collection has nothing of their kind
    const legacy: Array<[string | undefined, string, string, string]> = [
      [chassis.Thermal, 'Temperatures', 'ReadingCelsius', 'Temperatures'], [chassis.Thermal, 'Fans', 'Reading', 'Fans'],
      [chassis.Power, 'Voltages', 'ReadingVolts', 'Voltages'], [chassis.Power, 'PowerControl', 'PowerConsumedWatts', 'Power'], [chassis.Power, 'PowerSupplies', 'LastPowerOutputWatts', 'Power']
    ]
    for (const [resource, array, field, kind] of legacy) {
      if (resource === undefined || kinds.has(kind)) continue
      for (const m of (svc.resource(link(resource)) as Json)[array] ?? []) {
        if (field in m) sensors.push({ chassis: chassisUri, name: m.Name, value: m[field], ...(typeof m.DataSourceUri === 'string' ? { source: m.DataSourceUri } : {}) })
      }
    }
    // ThermalSubsystem and PowerSubsystem readings that are no Sensor's (name: the mockup's folder, to list its files)
    if (name !== undefined) {
      for (const sub of [chassis.ThermalSubsystem, chassis.PowerSubsystem]) {
        if (sub !== undefined) for (const r of subsystemReadings(svc, name, link(sub), sensorUris)) sensors.push({ chassis: chassisUri, ...r })
      }
    }
  }
  // each chassis' EnvironmentMetrics (chassis in URI order): what no Sensor, legacy member or subsystem excerpt holds, each DataSourceUri once
  const covered = new Set([...sensorUris, ...sensors.map((s) => s.source).filter((u): u is string => u !== undefined)])
  for (const chassisUri of [...chassisList].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    const env = (svc.resource(chassisUri) as Json).EnvironmentMetrics
    const body = env !== undefined ? svc.resource(link(env)) : undefined
    if (body === undefined) continue
    const readings = excerptReadings(body, covered)
    for (const r of readings) sensors.push({ chassis: chassisUri, ...r })
    for (const r of readings) if (r.source !== undefined) covered.add(r.source)
  }
  return { systems, sensors }
}

/** The one number of a reading. */
export const valueOf = (reading: Json): number => Object.values(reading).find((v) => typeof v === 'number') as number
