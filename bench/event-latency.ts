/**
 * Event latency at fleet scale (npm run bench:events): the service as it
 * ships (`opendcre serve`, its node flags, logging to its log dir) polling N
 * emulated IPMI BMCs (bench/event-fleet.ts, another process) every S
 * seconds. In steady state it injects F faults spread over the fleet and
 * over the window (BMC i's CPU1 Temp pushed past its upper critical
 * threshold, which logs a SEL event) and times each one from injection to
 * its arrival on /opendcre/1.2/stream:
 *
 * - `log`: the SEL entry as an `event: alert` of kind log (the event watch:
 *   Get SEL Info every events_s, then the new entries) — target p99 < 3 s;
 * - `threshold`: the state change seen by the poller (kind threshold): the
 *   SEL entry has its sensor read again at once (monitoring/poller.ts
 *   rereadFor), else it waits for the sensor's next poll (up to the interval);
 * - `first`: whichever came first.
 *
 * Also the service's CPU over the window and its RSS, with the load average.
 *
 *   npm run bench:events                               # 1,000 BMCs every 15 s, 50 faults over 30 s
 *   npm run bench:events -- --bmcs 200 --faults 20 --window 20
 *   npm run bench:events -- --events-s 1                # the SEL looked at every second
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { packageRoot } from '../config/paths.js'
import { cpuSeconds, rssMb, runThenCleanUp, SERVICE_NODE_FLAGS } from './harness.js'

const { values } = parseArgs({
  options: {
    bmcs: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '15' },
    faults: { type: 'string', default: '50' },
    window: { type: 'string', default: '30' },
    // poll.events_s: seconds between two looks at each BMC's SEL (default: the service's, 2 s)
    'events-s': { type: 'string' },
    'base-port': { type: 'string' }
  }
})
const bmcs = Number(values.bmcs)
const interval = Number(values.interval)
const faults = Math.min(bmcs, Number(values.faults))
const windowS = Number(values.window)
const basePort = values['base-port'] !== undefined ? Number(values['base-port']) : 10001 + Math.floor(Math.random() * (22000 - bmcs))
const dir = mkdtempSync(join(tmpdir(), 'opendcre-bench-events-'))
const children: ChildProcess[] = []
const CLI = join(packageRoot, 'dist', 'cli', 'opendcre.js')

function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

function summary (xs: number[]): { n: number, p50: number, p99: number, max: number } {
  const s = [...xs].sort((a, b) => a - b)
  return { n: s.length, p50: Math.round(percentile(s, 0.5)), p99: Math.round(percentile(s, 0.99)), max: Math.round(s[s.length - 1] ?? NaN) }
}

/** Reads the stream; calls `onAlert` with each alert and the time it came. */
function readStream (url: string, onAlert: (alert: any, at: number) => void): () => void {
  const req = request(`${url}/opendcre/1.2/stream`, (res) => {
    let buffer = ''
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      const at = Date.now()
      buffer += chunk
      let end
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (!block.startsWith('event: alert\n')) continue
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (data !== undefined) onAlert(JSON.parse(data), at)
      }
    })
  })
  req.on('error', () => {})
  req.end()
  return () => req.destroy()
}

async function main (): Promise<void> {
  const fleet = spawn(process.execPath, [join(packageRoot, 'dist', 'bench', 'event-fleet.js'), '--count', String(bmcs), '--port', String(basePort)], { stdio: ['pipe', 'pipe', 'inherit'] })
  children.push(fleet)
  const crossed = new Map<number, number>()
  await new Promise<void>((resolve, reject) => {
    fleet.once('exit', (code) => reject(new Error(`the BMC fleet exited (${String(code)})`)))
    createInterface({ input: fleet.stdout! }).on('line', (line) => {
      const o = JSON.parse(line) as { event: string, bmc?: number, at?: number }
      if (o.event === 'listening') resolve()
      if (o.event === 'crossed') crossed.set(o.bmc as number, o.at as number)
    })
  })
  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({ bmcs: Array.from({ length: bmcs }, (_, i) => ({ bmc_ip: '127.0.0.1', bmc_port: basePort + i, username: 'ADMIN', password: 'ADMIN', cipher_suite: 3 })) }))
  const config = join(dir, 'opendcre_config.json')
  const eventsS = values['events-s'] !== undefined ? Number(values['events-s']) : undefined
  writeFileSync(config, JSON.stringify({ poll: { intervals: { ipmi: { default: interval } }, ...(eventsS !== undefined ? { events_s: eventsS } : {}) } }))
  const servicePort = basePort - 1
  const service = spawn(process.execPath, [...SERVICE_NODE_FLAGS, CLI, 'serve', '--host', '127.0.0.1', '--port', String(servicePort),
    '--config', config, '--bmc-config', bmcConfig, '--log-dir', join(dir, 'logs'), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(service)
  const url = `http://127.0.0.1:${servicePort}`
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/opendcre/1.2/test`).then((r) => r.ok, () => false)) break
    if (i > 100) throw new Error('the service did not start')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const pid = service.pid as number
  const warmup = interval + 20
  process.stderr.write(`${bmcs} BMCs on ports ${basePort}..${basePort + bmcs - 1}, polled every ${interval} s; warming up ${warmup} s, then ${faults} faults over ${windowS} s\n`)

  // each board's first alert of each kind after its fault
  const arrivals = new Map<number, { log?: number, threshold?: number }>()
  const stop = readStream(url, (alert, at) => {
    const bmc = parseInt(String(alert.board_id), 16) - 0x40000001
    if (!crossed.has(bmc)) return
    const seen = arrivals.get(bmc) ?? {}
    if (alert.kind === 'log' && /Upper Critical going high/.test(String(alert.entry?.event))) seen.log ??= at
    if (alert.kind === 'threshold' && alert.device_id === '0001' && alert.state === 'critical') seen.threshold ??= at
    arrivals.set(bmc, seen)
  })
  await new Promise((resolve) => setTimeout(resolve, warmup * 1000))

  const cpu0 = cpuSeconds(pid)
  const t0 = performance.now()
  let rssMax = 0
  const stride = Math.floor(bmcs / faults)
  for (let k = 0; k < faults; k++) {
    // spread over the fleet (a different BMC each time) and over the window
    fleet.stdin!.write(JSON.stringify({ cross: (k * stride + (k % stride)) % bmcs }) + '\n')
    rssMax = Math.max(rssMax, rssMb(pid))
    await new Promise((resolve) => setTimeout(resolve, (windowS * 1000) / faults))
  }
  // the threshold alerts wait for the next poll of the sensor: one interval more
  await new Promise((resolve) => setTimeout(resolve, (interval + 5) * 1000))
  const cpu = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)
  rssMax = Math.max(rssMax, rssMb(pid))
  stop()

  const log: number[] = []
  const threshold: number[] = []
  const first: number[] = []
  let missing = 0
  for (const [bmc, at] of crossed) {
    const a = arrivals.get(bmc)
    if (a?.log !== undefined) log.push(a.log - at)
    if (a?.threshold !== undefined) threshold.push(a.threshold - at)
    const firstAt = Math.min(a?.log ?? Infinity, a?.threshold ?? Infinity)
    if (Number.isFinite(firstAt)) first.push(firstAt - at)
    else missing++
  }
  const result = {
    bmcs,
    interval_s: interval,
    events_s: values['events-s'] !== undefined ? Number(values['events-s']) : 'default (2)',
    faults_injected: crossed.size,
    faults_never_seen: missing,
    latency_ms: { first: summary(first), log: summary(log), threshold: summary(threshold) },
    targets: { first_p99_under_3s: percentile([...first].sort((a, b) => a - b), 0.99) < 3000 },
    service_cpu_cores: Math.round(cpu * 1000) / 1000,
    service_rss_mb_max: Math.round(rssMax),
    machine: { cores: cpus().length, load_average_1m: Math.round(loadavg()[0] * 10) / 10 }
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  fleet.stdin!.end()
}

runThenCleanUp('bench:events', main, children, dir)
