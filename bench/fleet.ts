/**
 * Fleet monitoring at scale (npm run bench:fleet): one service instance, as
 * it ships (`opendcre serve`, its node flags, logging to its log dir), polling
 * N emulated IPMI BMCs (`opendcre bmc-emulator --count N`, another process)
 * every S seconds. After a warm-up of one interval plus the inventory, and
 * then until every BMC is up and the sensors with values stop growing (at
 * most --max-warmup s; the result says whether it got there), over a
 * measuring window it reports:
 *
 * - the reading age of every sensor at each /metrics scrape: p50, p99, max
 *   (target: p99 under the interval);
 * - the /metrics scrape time as Prometheus asks (Accept-Encoding: gzip), and
 *   its bytes on the wire (target p99 < 500 ms; 1 s past 5,000 BMCs);
 * - the service's CPU and RSS (targets: 0.5 core and 300 MB at 1,000 BMCs,
 *   0.6 core and 600 MB at 5,000, 1 core and 1.2 GB at 10,000), the CPU
 *   also by thread (the event loop is "main"; Node names V8's GC helpers,
 *   libuv's pool and the scrape worker alike) and the share in the kernel;
 * - sessions held by the emulator vs BMCs, log-ins and re-logins counted by
 *   the service (target: sessions = BMCs, no re-login in steady state).
 *
 *   npm run bench:fleet                                # 1,000 BMCs every 15 s
 *   npm run bench:fleet -- --bmcs 5000 --interval 60 --window 120
 *   npm run bench:fleet -- --redfish 200                # 200 Redfish servers every 15 s
 *   npm run bench:fleet -- --bmcs 5000 --heap-snapshot /tmp/snap   # and a heap snapshot at the end
 *   npm run bench:fleet -- --bmcs 1000 --window 30 --cpu-prof /tmp/prof   # and the service's CPU profile when it stops
 *   npm run bench:fleet -- --bmcs 5000 --node-flags=--max-semi-space-size=16,--heap-growing-percent=50   # other node flags
 *   npm run bench:fleet -- --bmcs 5000 --scrape-pause 15   # scraped at Prometheus's cadence (deploy/), not every 5 s
 *
 * With --redfish N the fleet is N emulated Redfish servers instead
 * (`opendcre redfish-emulator --count N`, one process, SessionService,
 * ADMIN/ADMIN) listed in a generated redfish_config.json; the same figures,
 * with the sessions each server holds (its Sessions collection) and the
 * service's opendcre_redfish_session_logins_total.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { request } from 'node:http'
import { gunzipSync } from 'node:zlib'
import { packageRoot } from '../config/paths.js'
import { rssMb, runThenCleanUp, SERVICE_NODE_FLAGS, sumMetric, threadCpuSeconds, userSystemSeconds } from './harness.js'

const { values } = parseArgs({
  options: {
    bmcs: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '15' },
    window: { type: 'string', default: '60' },
    // below Linux's ephemeral range (32768-60999), where other sockets may take a port of ours
    'base-port': { type: 'string' },
    'service-port': { type: 'string', default: '0' },
    // the bare baseline: the same service and BMCs with the poller off (one scan logs in to every BMC)
    baseline: { type: 'boolean', default: false },
    // N emulated Redfish servers instead of IPMI BMCs
    redfish: { type: 'string' },
    // write a heap snapshot of the service at the end of the window (into DIR): where the memory goes
    'heap-snapshot': { type: 'string' },
    // write a CPU profile of the service (node --cpu-prof) into DIR when it stops: where its CPU goes
    'cpu-prof': { type: 'string' },
    // after the first interval, wait (at most this long) until every BMC is up and every sensor has a value
    'max-warmup': { type: 'string', default: '300' },
    // how often each BMC's event log is looked at (poll.events_s; the service's default when not given): its share of the CPU
    'events-s': { type: 'string' },
    // poll.concurrency (requests in flight over all boards; the service's default when not given)
    concurrency: { type: 'string' },
    // node's flags for the service instead of the shipped ones (comma- or space-separated; give it as --node-flags=...), to weigh a GC setting
    'node-flags': { type: 'string' },
    // seconds between the window's scrapes (each parsed here): 5 gives a p99 from ~10 scrapes a minute; 15 is Prometheus's cadence in deploy/
    'scrape-pause': { type: 'string', default: '5' },
    // the service's stdout into FILE (with --node-flags=...,--trace-gc: its collections)
    'service-stdout': { type: 'string' }
  }
})
const serviceNodeFlags = values['node-flags'] !== undefined ? values['node-flags'].split(/[\s,]+/).filter((f) => f !== '') : SERVICE_NODE_FLAGS
const redfish = values.redfish !== undefined
const backend = redfish ? 'redfish' : 'ipmi'
const bmcs = Number(redfish ? values.redfish : values.bmcs)
const interval = Number(values.interval)
const windowS = Number(values.window)
const basePort = values['base-port'] !== undefined ? Number(values['base-port']) : 10001 + Math.floor(Math.random() * (22000 - bmcs))
const CLI = join(packageRoot, 'dist', 'cli', 'opendcre.js')
const dir = mkdtempSync(join(tmpdir(), 'opendcre-bench-fleet-'))
const children: ChildProcess[] = []

function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

async function firstJsonLine (child: ChildProcess, match: (o: any) => boolean, onLine?: (o: any) => void): Promise<any> {
  const lines = createInterface({ input: child.stdout! })
  return await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`exited (${String(code)})`)))
    lines.on('line', (line) => {
      let o: any
      try { o = JSON.parse(line) } catch { return }
      onLine?.(o)
      if (match(o)) resolve(o)
    })
  })
}

/**
 * One scrape as Prometheus makes it (Accept-Encoding: gzip): the time to the
 * last byte, the bytes on the wire, and the text (decompressed after the clock stops).
 */
async function scrape (url: string, timeoutMs = 30_000): Promise<{ ms: number, wireBytes: number, gzip: boolean, text: string }> {
  const t0 = performance.now()
  return await new Promise((resolve, reject) => {
    const req = request(`${url}/metrics`, { headers: { 'accept-encoding': 'gzip', accept: 'text/plain;version=0.0.4' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const ms = performance.now() - t0
        const body = Buffer.concat(chunks)
        const gzip = res.headers['content-encoding'] === 'gzip'
        resolve({ ms, wireBytes: body.length, gzip, text: (gzip ? gunzipSync(body) : body).toString() })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('scrape timed out')))
    req.on('error', reject)
    req.end()
  })
}

/** The targets for a fleet of this size: 1,000 at 15 s, 5,000 at 15 s, 10,000 at 30 s. */
function targetsFor (n: number): { cores: number, rssMb: number, scrapeMs: number } {
  if (n <= 1000) return { cores: 0.5, rssMb: 300, scrapeMs: 500 }
  if (n <= 5000) return { cores: 0.6, rssMb: 600, scrapeMs: 500 }
  return { cores: 1, rssMb: 1200, scrapeMs: 1000 }
}

/** Lines of a family of this backend that pass a test. */
function countLines (text: string, prefix: string, test: (line: string) => boolean): number {
  let n = 0
  for (const line of text.split('\n')) if (line.startsWith(prefix) && line.includes(`backend="${backend}"`) && test(line)) n++
  return n
}

/** N emulated Redfish servers in one process, on consecutive ports; returns the path of a redfish_config.json listing them. */
async function redfishFleet (): Promise<{ config: string, urls: string[] }> {
  const emulator = spawn(process.execPath, [CLI, 'redfish-emulator', '--host', '127.0.0.1', '--port', String(basePort), '--count', String(bmcs),
    join(packageRoot, 'emulator-configs', 'redfish-emulator.json')], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(emulator)
  const urls: string[] = []
  await firstJsonLine(emulator, () => urls.length === bmcs, (o) => { if (typeof o.url === 'string' && /listening at/.test(String(o.msg))) urls.push(o.url) })
  const config = join(dir, 'redfish_config.json')
  writeFileSync(config, JSON.stringify({ servers: urls.map((url) => ({ url, username: 'ADMIN', password: 'ADMIN' })) }))
  return { config, urls }
}

/** Sessions each Redfish server holds (its SessionService's collection, read with Basic). */
async function redfishSessions (urls: string[]): Promise<number> {
  const auth = `Basic ${Buffer.from('ADMIN:ADMIN').toString('base64')}`
  let sum = 0
  for (const url of urls) {
    const res = await fetch(`${url}/redfish/v1/SessionService/Sessions`, { headers: { authorization: auth } })
    sum += Number((await res.json() as any)['Members@odata.count'])
  }
  return sum
}

async function main (): Promise<void> {
  let backendArgs: string[]
  let emulatorStats: any
  let sessionsHeld: () => Promise<number | undefined>
  if (redfish) {
    // the Redfish fleet, in its own process
    const fleet = await redfishFleet()
    backendArgs = ['--redfish-config', fleet.config]
    sessionsHeld = async () => await redfishSessions(fleet.urls)
  } else {
    backendArgs = ['--bmc-config', await ipmiFleet((stats) => { emulatorStats = stats })]
    sessionsHeld = async () => emulatorStats?.sessions
  }
  const config = join(dir, 'opendcre_config.json')
  const eventsS = values['events-s'] === undefined ? {} : { events_s: Number(values['events-s']) }
  const concurrency = values.concurrency === undefined ? {} : { concurrency: Number(values.concurrency) }
  writeFileSync(config, JSON.stringify({ poll: { enabled: !values.baseline, intervals: { [backend]: { default: interval } }, ...eventsS, ...concurrency } }))

  // the service as it ships
  const servicePort = Number(values['service-port']) === 0 ? basePort - 1 : Number(values['service-port'])
  const snapshotDir = values['heap-snapshot']
  const snapshotFlags = snapshotDir !== undefined ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] : []
  if (values['cpu-prof'] !== undefined) snapshotFlags.push('--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`)
  const service = spawn(process.execPath, [...serviceNodeFlags, ...snapshotFlags, CLI, 'serve', '--host', '127.0.0.1', '--port', String(servicePort),
    '--config', config, ...backendArgs, '--log-dir', join(dir, 'logs'), '--log-level', 'warn'], { stdio: ['ignore', values['service-stdout'] !== undefined ? openSync(values['service-stdout'], 'w') : 'ignore', 'inherit'] })
  children.push(service)
  const url = `http://127.0.0.1:${servicePort}`
  for (let i = 0; ; i++) {
    const ok = await fetch(`${url}/opendcre/1.2/test`).then((r) => r.ok, () => false)
    if (ok) break
    if (i > 100) throw new Error('the service did not start')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const pid = service.pid as number
  const warmup = interval + 15
  process.stderr.write(`${bmcs} ${redfish ? 'Redfish servers' : 'BMCs'} on ports ${basePort}..${basePort + bmcs - 1}, polled every ${interval} s; warming up ${warmup} s, then measuring ${windowS} s\n`)
  if (values.baseline) await fetch(`${url}/opendcre/1.2/scan`)
  const warmStart = performance.now()
  await new Promise((resolve) => setTimeout(resolve, warmup * 1000))
  // steady state: every board up and the sensors with values no longer growing (logging in to 5,000 BMCs on a loaded machine takes longer than one interval)
  let steady = values.baseline
  for (let previous = -1; !steady && performance.now() - warmStart < Number(values['max-warmup']) * 1000;) {
    const text = (await scrape(url)).text
    const up = countLines(text, 'opendcre_board_up{', (l) => l.endsWith(' 1'))
    const withValues = countLines(text, 'opendcre_reading_age_seconds{', () => true)
    steady = up === bmcs && withValues === previous
    previous = withValues
    if (!steady) await new Promise((resolve) => setTimeout(resolve, 5000))
  }
  const warmupS = Math.round((performance.now() - warmStart) / 1000)
  process.stderr.write(`${steady ? 'steady' : 'NOT steady'} after ${warmupS} s\n`)

  const startMetrics = (await scrape(url)).text
  const cpu0 = userSystemSeconds(pid)
  const threads0 = threadCpuSeconds(pid)
  const t0 = performance.now()
  const ages: number[] = []
  const scrapes: number[] = []
  const wire: number[] = []
  let gzipped = true
  let rssMax = 0
  let rssFirst: number | undefined
  let sensors = 0
  let boardsUp = 0
  while (performance.now() - t0 < windowS * 1000) {
    const answer = await scrape(url)
    scrapes.push(answer.ms)
    wire.push(answer.wireBytes)
    gzipped &&= answer.gzip
    const text = answer.text
    let n = 0
    for (const line of text.split('\n')) {
      if (line.startsWith('opendcre_reading_age_seconds{') && line.includes(`backend="${backend}"`)) {
        ages.push(Number(line.slice(line.lastIndexOf(' ') + 1)))
        n++
      }
    }
    sensors = n
    boardsUp = text.split('\n').filter((l) => l.startsWith('opendcre_board_up{') && l.includes(`backend="${backend}"`) && l.endsWith(' 1')).length
    const rss = rssMb(pid)
    rssMax = Math.max(rssMax, rss)
    rssFirst ??= rss
    await new Promise((resolve) => setTimeout(resolve, Number(values['scrape-pause']) * 1000))
  }
  const elapsedS = (performance.now() - t0) / 1000
  const cpu1 = userSystemSeconds(pid)
  const cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / elapsedS
  const kernelCpu = (cpu1.system - cpu0.system) / elapsedS
  // where the cores went, by thread: the event loop against the rest (V8's GC helpers, libuv's pool, the scrape worker)
  const threads1 = threadCpuSeconds(pid)
  const cpuByThread = Object.fromEntries(Object.entries(threads1)
    .map(([name, s]) => [name, Math.round((s - (threads0[name] ?? 0)) / elapsedS * 1000) / 1000])
    .filter(([, c]) => (c as number) > 0).sort((a, b) => (b[1] as number) - (a[1] as number)))
  const target = targetsFor(bmcs)
  const endMetrics = (await scrape(url)).text
  ages.sort((a, b) => a - b)
  scrapes.sort((a, b) => a - b)
  // Redfish has no re-login counter of its own: every log-in past one per server is one
  const loginsMetric = redfish ? 'opendcre_redfish_session_logins_total' : 'opendcre_ipmi_sessions_established_total'
  const logins = sumMetric(endMetrics, loginsMetric)
  const loginsInWindow = logins - sumMetric(startMetrics, loginsMetric)
  const relogins = redfish ? Math.max(0, logins - bmcs) : sumMetric(endMetrics, 'opendcre_ipmi_relogins_total')
  const held = await sessionsHeld()
  const result = {
    poller: values.baseline ? 'off (baseline: sessions opened by one scan)' : 'on',
    warmup_s: warmupS,
    steady_before_window: steady,
    backend,
    bmcs,
    interval_s: interval,
    events_s: values['events-s'] === undefined ? 'default' : Number(values['events-s']),
    concurrency: values.concurrency === undefined ? 'default' : Number(values.concurrency),
    window_s: windowS,
    scrape_pause_s: Number(values['scrape-pause']),
    service_node_flags: serviceNodeFlags.join(' '),
    sensors_with_values: sensors,
    boards_up: boardsUp,
    reading_age_s: { p50: percentile(ages, 0.5), p99: percentile(ages, 0.99), max: ages[ages.length - 1] },
    scrape_ms: { p50: Math.round(percentile(scrapes, 0.5)), p99: Math.round(percentile(scrapes, 0.99)), max: Math.round(scrapes[scrapes.length - 1]) },
    scrape_bytes_on_wire: Math.round(percentile(wire.sort((a, b) => a - b), 0.5)),
    scrape_gzip: gzipped,
    service_cpu_cores: Math.round(cpu * 1000) / 1000,
    service_cpu_cores_by_thread: cpuByThread,
    service_cpu_cores_in_kernel: Math.round(kernelCpu * 1000) / 1000,
    service_rss_mb_max: Math.round(rssMax),
    service_rss_mb_first_and_last: [Math.round(rssFirst ?? 0), Math.round(rssMb(pid))],
    service_heap_mb: {
      used: Math.round(sumMetric(endMetrics, 'nodejs_heap_size_used_bytes') / 1048576),
      total: Math.round(sumMetric(endMetrics, 'nodejs_heap_size_total_bytes') / 1048576),
      external: Math.round(sumMetric(endMetrics, 'nodejs_external_memory_bytes') / 1048576)
    },
    emulator_sessions_held: held,
    logins_total: logins,
    logins_in_window: loginsInWindow,
    relogins_total: relogins,
    ...(redfish ? { redfish_errors_total: sumMetric(endMetrics, 'opendcre_redfish_errors_total'), redfish_timeouts_total: sumMetric(endMetrics, 'opendcre_redfish_timeouts_total') } : {}),
    targets: {
      p99_age_under_interval: percentile(ages, 0.99) < interval,
      [`scrape_p99_under_${target.scrapeMs}ms`]: percentile(scrapes, 0.99) < target.scrapeMs,
      [`cpu_under_${target.cores}_core`]: cpu < target.cores,
      [`rss_under_${target.rssMb}mb`]: rssMax < target.rssMb,
      sessions_equal_bmcs: held === bmcs && logins === bmcs && relogins === 0
    },
    machine: { cores: cpus().length, load_average_1m: Math.round(loadavg()[0] * 10) / 10 }
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  if (snapshotDir !== undefined) {
    // V8 writes Heap.*.heapsnapshot into the diagnostic dir; the service stops while it does (~1 min at 5,000 BMCs)
    process.kill(pid, 'SIGUSR2')
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    await scrape(url, 300_000)
    process.stderr.write(`heap snapshot written into ${snapshotDir}\n`)
  }
}

/** N emulated IPMI BMCs in one process, on consecutive ports; returns the path of a bmc_config.json listing them. */
async function ipmiFleet (onStats: (stats: any) => void): Promise<string> {
  const emulator = spawn(process.execPath, [CLI, 'bmc-emulator', '--host', '127.0.0.1', '--port', String(basePort), '--count', String(bmcs),
    '--stats-ms', '5000', '--log-level', 'warn', join(packageRoot, 'emulator-configs', 'bmc-emulator.json')], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(emulator)
  await firstJsonLine(emulator, (o) => o.event === 'listening', (o) => { if (o.event === 'stats') onStats(o) })

  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({
    bmcs: Array.from({ length: bmcs }, (_, i) => ({ bmc_ip: '127.0.0.1', bmc_port: basePort + i, username: 'ADMIN', password: 'ADMIN', cipher_suite: 3 }))
  }))
  return bmcConfig
}

runThenCleanUp('bench:fleet', main, children, dir)
