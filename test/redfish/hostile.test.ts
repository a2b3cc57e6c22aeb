import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, get } from '../helper.js'

/**
 * Services that are broken or hostile, rebuilt from issue 20: a Sensors
 * collection of 300,000 link-only members, 15,000 chassis links, a slow
 * service past the command deadline, and answers that are no Redfish
 * resource (302, empty body, HTML, an array). Each costs bounded time and
 * memory and ends in a {"message"} naming the service and the resource.
 */

const dir = mkdtempSync(join(tmpdir(), 'redfish-hostile-'))
type Handler = (res: ServerResponse, path: string) => void

const json = (res: ServerResponse, body: unknown): void => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body))
}

/** A service: the given paths answered by their handlers, everything else 404. */
async function hostile (t: Test, routes: Record<string, Handler>, fallback?: Handler): Promise<{ url: string, requests: () => number }> {
  let requests = 0
  const server = createServer((req, res) => {
    requests++
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/$/, '')
    const handler = routes[path] ?? fallback
    if (handler !== undefined) return handler(res, path)
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { code: 'Base.1.8.ResourceMissingAtURI', message: 'not found' } }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests: () => requests }
}

async function app (t: Test, url: string, limits: Record<string, number> = {}): Promise<FastifyInstance> {
  const file = join(dir, `redfish-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(file, JSON.stringify({ servers: [{ url, timeout_ms: 5000 }], limits }))
  return await build(t, { redfishConfig: file, redfish: { scanBudgetMs: 60_000 } })
}

const base: Record<string, Handler> = {
  '/redfish/v1': (res) => json(res, { '@odata.id': '/redfish/v1', Systems: { '@odata.id': '/redfish/v1/Systems' }, Chassis: { '@odata.id': '/redfish/v1/Chassis' } }),
  '/redfish/v1/Systems': (res) => json(res, { Members: [{ '@odata.id': '/redfish/v1/Systems/1' }] }),
  '/redfish/v1/Systems/1': (res) => json(res, { '@odata.id': '/redfish/v1/Systems/1', PowerState: 'On', Links: { Chassis: [{ '@odata.id': '/redfish/v1/Chassis/1' }] } }),
  '/redfish/v1/Chassis': (res) => json(res, { Members: [{ '@odata.id': '/redfish/v1/Chassis/1' }] }),
  '/redfish/v1/Chassis/1': (res) => json(res, { '@odata.id': '/redfish/v1/Chassis/1', Sensors: { '@odata.id': '/redfish/v1/Chassis/1/Sensors' } })
}

const sensor = (res: ServerResponse, path: string): void => json(res, { '@odata.id': path, Name: path.split('/').pop(), ReadingUnits: 'Cel', Reading: 30 })

function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

t.test('a Sensors collection of 300,000 link-only members: others\' p99 < 100 ms, RSS grows < 100 MB, at most max_members fetched', async (t) => {
  // short links, as in the issue (8 MB); the answer is made once, before measuring: serving it costs the test's event loop nothing more
  const members = Buffer.from(JSON.stringify({ Members: Array.from({ length: 300_000 }, (_, i) => ({ '@odata.id': `/s/${i}` })) }))
  t.ok(members.length > 7_500_000 && members.length < 16 * 1024 * 1024, `${(members.length / 1e6).toFixed(1)} MB (the issue's 8 MB), under the 16 MiB cap`)
  const svc = await hostile(t, { ...base, '/redfish/v1/Chassis/1/Sensors': (res) => json(res, members) }, sensor)
  const server = await app(t, svc.url)
  global.gc?.()
  const rssBefore = process.memoryUsage().rss
  let rssMax = rssBefore
  const latencies: number[] = []
  const statuses = new Set<number>()
  const state = { done: false }
  const scan = get(server, '/scan/70000001').finally(() => { state.done = true })
  while (!state.done) {
    const start = performance.now()
    const res = await server.inject({ method: 'GET', url: '/opendcre/1.2/test' })
    latencies.push(performance.now() - start)
    statuses.add(res.statusCode)
    rssMax = Math.max(rssMax, process.memoryUsage().rss)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const result = await scan
  t.same([...statuses], [200], 'every other request answered')
  t.equal(result.statusCode, 200, 'the scan answers')
  const devices = result.json().boards[0].devices.filter((d: { device_type: string }) => d.device_type === 'temperature')
  t.equal(devices.length, 1000, 'max_members (1000) of the 300,000 taken')
  t.ok(svc.requests() <= 1000 + 10, `${svc.requests()} requests to the service`)
  const p99 = percentile(latencies, 0.99)
  t.ok(p99 < 100, `p99 of ${latencies.length} other requests during the scan: ${p99.toFixed(1)} ms`)
  t.ok(rssMax - rssBefore < 100 * 1024 * 1024, `RSS grew by ${((rssMax - rssBefore) / 1048576).toFixed(1)} MB`)
})

t.test('15,000 chassis links: a scan follows max_chassis of them and ends within the bound', async (t) => {
  const chassis = { Members: Array.from({ length: 15_000 }, (_, i) => ({ '@odata.id': `/redfish/v1/Chassis/c${i}` })) }
  const svc = await hostile(t, {
    ...base,
    '/redfish/v1/Systems/1': (res) => json(res, { '@odata.id': '/redfish/v1/Systems/1', PowerState: 'On' }),
    '/redfish/v1/Chassis': (res) => json(res, chassis)
  }, (res, path) => json(res, { '@odata.id': path, Thermal: { '@odata.id': `${path}/Thermal` } }))
  const server = await app(t, svc.url)
  const start = performance.now()
  const res = await get(server, '/scan/70000001')
  const took = performance.now() - start
  t.equal(res.statusCode, 200)
  t.ok(took < 15_000, `ended in ${took.toFixed(0)} ms (command_timeout_ms: 15000)`)
  t.ok(svc.requests() <= 4 + 64 * 2, `${svc.requests()} requests: the 64 chassis followed and their Thermal, no more`)
})

t.test('a slow service past command_timeout_ms: the whole command ends at the deadline with a message naming the service', async (t) => {
  const chassis = { Members: Array.from({ length: 500 }, (_, i) => ({ '@odata.id': `/redfish/v1/Chassis/c${i}` })) }
  const svc = await hostile(t, { ...base, '/redfish/v1/Chassis': (res) => json(res, chassis) },
    (res, path) => setTimeout(() => json(res, { '@odata.id': path }), 100))
  const server = await app(t, svc.url, { max_chassis: 500, command_timeout_ms: 1000 })
  const start = performance.now()
  const res = await get(server, '/scan/70000001')
  const took = performance.now() - start
  t.equal(res.statusCode, 500)
  t.match(res.json().message, new RegExp(`${svc.url}: discovery did not finish within 1000 ms`))
  t.ok(took < 5000, `ended in ${took.toFixed(0)} ms, not 500 × 100 ms / 4`)
})

t.test('answers that are no Redfish resource: a clear {"message"} naming the service and the resource', async (t) => {
  const cases: Array<[string, Handler, RegExp]> = [
    ['a 302', (res) => { res.writeHead(302, { location: 'https://elsewhere.example/redfish/v1/Systems' }); res.end() }, /GET \/redfish\/v1\/Systems: HTTP 302 \(to https:\/\/elsewhere\.example\/redfish\/v1\/Systems\); redirects are not followed/],
    ['an empty body', (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end() }, /GET \/redfish\/v1\/Systems: HTTP 200 with an empty answer/],
    ['HTML', (res) => { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); res.end('<html>login</html>') }, /GET \/redfish\/v1\/Systems: the answer is text\/html, not JSON/],
    ['an array', (res) => json(res, [1, 2, 3]), /GET \/redfish\/v1\/Systems: the answer is not a Redfish resource/],
    ['Members of the wrong shape', (res) => json(res, { Members: 'all of them' }), /lists no computer system/],
    ['a system of the wrong shape', (res) => json(res, { Members: [{ '@odata.id': 42 }, null, 'x'] }), /lists no computer system/]
  ]
  for (const [what, handler, message] of cases) {
    const svc = await hostile(t, { ...base, '/redfish/v1/Systems': handler })
    const server = await app(t, svc.url)
    const res = await get(server, '/scan/70000001')
    t.equal(res.statusCode, 500, what)
    t.same(Object.keys(res.json()), ['message'], `${what}: {"message"} only`)
    t.match(res.json().message, new RegExp(`^Error scanning Redfish board: ${svc.url.replace(/[.]/g, '\\.')}`), `${what}: names the service`)
    t.match(res.json().message, message, `${what}: and the resource`)
    t.notMatch(res.json().message, /TypeError|at .*\.ts/, `${what}: no TypeError, no stack`)
  }
  // a sensor resource of the wrong shape, read after a good discovery
  const svc = await hostile(t, { ...base, '/redfish/v1/Chassis/1/Sensors': (res) => json(res, { Members: [{ '@odata.id': '/redfish/v1/Chassis/1/Sensors/t' }] }) },
    (res, path) => json(res, { '@odata.id': path, Name: 'T', ReadingUnits: 'Cel', Reading: { value: 'hot' } }))
  const server = await app(t, svc.url)
  t.equal((await get(server, '/scan/70000001')).statusCode, 200)
  const read = await get(server, '/read/temperature/70000001/1001')
  t.equal(read.statusCode, 500)
  t.match(read.json().message, new RegExp(`${svc.url.replace(/[.]/g, '\\.')}: /redfish/v1/Chassis/1/Sensors/t: T gives no reading`))
})

t.test('a ThermalSubsystem listing 20,000 fans, each excerpt a reading: max_members resources read, bounded time', async (t) => {
  const fans = Array.from({ length: 20_000 }, (_, i) => ({ '@odata.id': `/redfish/v1/Chassis/1/ThermalSubsystem/Fans/${i}` }))
  const svc = await hostile(t, {
    ...base,
    '/redfish/v1/Chassis/1': (res) => json(res, { '@odata.id': '/redfish/v1/Chassis/1', ThermalSubsystem: { '@odata.id': '/redfish/v1/Chassis/1/ThermalSubsystem' } }),
    '/redfish/v1/Chassis/1/ThermalSubsystem': (res) => json(res, { '@odata.id': '/redfish/v1/Chassis/1/ThermalSubsystem', Name: 'Thermal', Fans: { '@odata.id': '/redfish/v1/Chassis/1/ThermalSubsystem/Fans' } }),
    '/redfish/v1/Chassis/1/ThermalSubsystem/Fans': (res) => json(res, { '@odata.id': '/redfish/v1/Chassis/1/ThermalSubsystem/Fans', Members: fans })
  }, (res, path) => json(res, { '@odata.id': path, Name: `Fan ${path.split('/').pop() ?? ''}`, SpeedPercent: { Reading: 40 } }))
  const server = await app(t, svc.url, { max_members: 100 })
  const started = Date.now()
  const scan = await get(server, '/scan/70000001')
  t.equal(scan.statusCode, 200)
  const devices = (scan.json().boards[0].devices as Array<{ device_type: string, device_info: string }>).filter((d) => d.device_type === 'fan_speed')
  t.ok(devices.length > 0 && devices.length <= 100, `${devices.length} fans taken (max_members 100)`)
  t.ok(svc.requests() < 150, `${svc.requests()} requests, not 20,000`)
  t.ok(Date.now() - started < 10_000, `${Date.now() - started} ms`)
})
