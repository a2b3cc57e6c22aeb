/**
 * Fleet monitoring at scale (npm run bench:fleet): one service instance, as
 * it ships (`opendcre serve`, its node flags, logging to its log dir), polling
 * N emulated IPMI BMCs (`opendcre bmc-emulator --count N`, another process)
 * every S seconds. After a warm-up of one interval plus the inventory, over a
 * measuring window it reports:
 *
 * - the reading age of every sensor at each /metrics scrape: p50, p99, max
 *   (target: p99 under the interval);
 * - the /metrics scrape time (target < 500 ms);
 * - the service's CPU (target < half a core) and RSS (target < 300 MB);
 * - sessions held by the emulator vs BMCs, log-ins and re-logins counted by
 *   the service (target: sessions = BMCs, no re-login in steady state).
 *
 *   npm run bench:fleet                                # 1,000 BMCs every 15 s
 *   npm run bench:fleet -- --bmcs 5000 --interval 60 --window 120
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { packageRoot } from '../plugins/paths.js'
import { cpuSeconds, rssMb, SERVICE_NODE_FLAGS } from './harness.js'

const { values } = parseArgs({
  options: {
    bmcs: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '15' },
    window: { type: 'string', default: '60' },
    // below Linux's ephemeral range (32768-60999), where other sockets may take a port of ours
    'base-port': { type: 'string' },
    'service-port': { type: 'string', default: '0' },
    // the bare baseline: the same service and BMCs with the poller off (one scan logs in to every BMC)
    baseline: { type: 'boolean', default: false }
  }
})
const bmcs = Number(values.bmcs)
const interval = Number(values.interval)
const windowS = Number(values.window)
const basePort = values['base-port'] !== undefined ? Number(values['base-port']) : 10001 + Math.floor(Math.random() * (22000 - bmcs))
const CLI = join(packageRoot, 'dist', 'cli.js')
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

function sumMetric (text: string, name: string): number {
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}

async function main (): Promise<void> {
  // the BMC fleet, in its own process
  const emulator = spawn(process.execPath, [CLI, 'bmc-emulator', '--host', '127.0.0.1', '--port', String(basePort), '--count', String(bmcs),
    '--stats-ms', '5000', '--log-level', 'warn', join(packageRoot, 'emulator-configs', 'bmc-emulator.json')], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(emulator)
  let emulatorStats: any
  await firstJsonLine(emulator, (o) => o.event === 'listening', (o) => { if (o.event === 'stats') emulatorStats = o })

  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({
    bmcs: Array.from({ length: bmcs }, (_, i) => ({ bmc_ip: '127.0.0.1', bmc_port: basePort + i, username: 'ADMIN', password: 'ADMIN', cipher_suite: 3 }))
  }))
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify({ poll: { enabled: !values.baseline, intervals: { ipmi: { default: interval } } } }))

  // the service as it ships
  const servicePort = Number(values['service-port']) === 0 ? basePort - 1 : Number(values['service-port'])
  const service = spawn(process.execPath, [...SERVICE_NODE_FLAGS, CLI, 'serve', '--host', '127.0.0.1', '--port', String(servicePort),
    '--config', config, '--bmc-config', bmcConfig, '--log-dir', join(dir, 'logs'), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] })
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
  process.stderr.write(`${bmcs} BMCs on ports ${basePort}..${basePort + bmcs - 1}, polled every ${interval} s; warming up ${warmup} s, then measuring ${windowS} s\n`)
  if (values.baseline) await fetch(`${url}/opendcre/1.2/scan`)
  await new Promise((resolve) => setTimeout(resolve, warmup * 1000))

  const startMetrics = await (await fetch(`${url}/metrics`)).text()
  const cpu0 = cpuSeconds(pid)
  const t0 = performance.now()
  const ages: number[] = []
  const scrapes: number[] = []
  let rssMax = 0
  let rssFirst: number | undefined
  let sensors = 0
  let boardsUp = 0
  while (performance.now() - t0 < windowS * 1000) {
    const s0 = performance.now()
    const text = await (await fetch(`${url}/metrics`)).text()
    scrapes.push(performance.now() - s0)
    let n = 0
    for (const line of text.split('\n')) {
      if (line.startsWith('opendcre_reading_age_seconds{') && line.includes('backend="ipmi"')) {
        ages.push(Number(line.slice(line.lastIndexOf(' ') + 1)))
        n++
      }
    }
    sensors = n
    boardsUp = text.split('\n').filter((l) => l.startsWith('opendcre_board_up{') && l.includes('backend="ipmi"') && l.endsWith(' 1')).length
    const rss = rssMb(pid)
    rssMax = Math.max(rssMax, rss)
    rssFirst ??= rss
    await new Promise((resolve) => setTimeout(resolve, 5000))
  }
  const cpu = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)
  const endMetrics = await (await fetch(`${url}/metrics`)).text()
  ages.sort((a, b) => a - b)
  scrapes.sort((a, b) => a - b)
  const logins = sumMetric(endMetrics, 'opendcre_ipmi_sessions_established_total')
  const loginsInWindow = logins - sumMetric(startMetrics, 'opendcre_ipmi_sessions_established_total')
  const relogins = sumMetric(endMetrics, 'opendcre_ipmi_relogins_total')
  const result = {
    poller: values.baseline ? 'off (baseline: sessions opened by one scan)' : 'on',
    bmcs,
    interval_s: interval,
    window_s: windowS,
    sensors_with_values: sensors,
    boards_up: boardsUp,
    reading_age_s: { p50: percentile(ages, 0.5), p99: percentile(ages, 0.99), max: ages[ages.length - 1] },
    scrape_ms: { p50: Math.round(percentile(scrapes, 0.5)), max: Math.round(scrapes[scrapes.length - 1]) },
    service_cpu_cores: Math.round(cpu * 1000) / 1000,
    service_rss_mb_max: Math.round(rssMax),
    service_rss_mb_first_and_last: [Math.round(rssFirst ?? 0), Math.round(rssMb(pid))],
    service_heap_mb: {
      used: Math.round(sumMetric(endMetrics, 'nodejs_heap_size_used_bytes') / 1048576),
      total: Math.round(sumMetric(endMetrics, 'nodejs_heap_size_total_bytes') / 1048576),
      external: Math.round(sumMetric(endMetrics, 'nodejs_external_memory_bytes') / 1048576)
    },
    emulator_sessions_held: emulatorStats?.sessions,
    logins_total: logins,
    logins_in_window: loginsInWindow,
    relogins_total: relogins,
    targets: {
      p99_age_under_interval: percentile(ages, 0.99) < interval,
      scrape_under_500ms: scrapes[scrapes.length - 1] < 500,
      cpu_under_half_core: cpu < 0.5,
      rss_under_300mb: rssMax < 300,
      sessions_equal_bmcs: emulatorStats?.sessions === bmcs && logins === bmcs && relogins === 0
    },
    machine: { cores: cpus().length, load_average_1m: Math.round(loadavg()[0] * 10) / 10 }
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
}

const cleanup = async (): Promise<void> => {
  await Promise.all(children.map(async (child) => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }))
  rmSync(dir, { recursive: true, force: true })
}

main().then(cleanup, async (err) => {
  process.stderr.write(`bench:fleet: ${(err as Error).message}\n`)
  await cleanup()
  process.exitCode = 1
})
