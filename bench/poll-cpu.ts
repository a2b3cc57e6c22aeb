/**
 * The service's CPU per polled IPMI request (npm run bench:poll-cpu): what
 * one sensor read over an RMCP+ session (cipher suite 3: RAKP-HMAC-SHA1,
 * HMAC-SHA1-96, AES-CBC-128) costs the poller, its session, its crypto and
 * its socket, without scrapes.
 *
 * Each case is the service as it ships (npm start's Node flags, `opendcre
 * serve`, its default logging) from a package root's build, polling every
 * one of N BMCs' 12 devices every --interval s, the event-log watch as
 * configured, the BMCs served by a BMC emulator process of its own
 * (`opendcre bmc-emulator --count N`, this checkout's build). After a warm-up
 * (every BMC logged in, the SDRs read) the service's CPU time (/proc) is
 * divided by the requests its emulator answered in the same window (the
 * emulator's datagram counter): CPU µs per request. With --baseline ROOT
 * (another checkout, built: `npm run build` there) the two services run side
 * by side, measured over the same window (the emulators swapped every round),
 * so a ratio compares what the same machine load gave both; --rounds rounds,
 * a fresh pair of services each.
 *
 *   npm run bench:poll-cpu -- --bmcs 500 --interval 5 --baseline /tmp/main
 *   npm run bench:poll-cpu -- --cpu-prof /tmp/prof   # and the service's CPU profile of each run
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { packageRoot } from '../config/paths.js'
import { median, rssMb, runThenCleanUp, SERVICE_NODE_FLAGS } from './harness.js'

const { values } = parseArgs({
  options: {
    bmcs: { type: 'string', default: '500' },
    interval: { type: 'string', default: '5' },
    window: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    // a package root (a checkout of another commit, built) to measure beside this one
    baseline: { type: 'string' },
    // poll.events_s; the service's default when not given
    'events-s': { type: 'string' },
    'cpu-prof': { type: 'string' }
  }
})
const bmcs = Number(values.bmcs)
const interval = Number(values.interval)
const windowS = Number(values.window)
const rounds = Number(values.rounds)
const basePort = 10001 + Math.floor(Math.random() * (22000 - 2 * bmcs))
const dir = mkdtempSync(join(tmpdir(), 'opendcre-bench-poll-cpu-'))
const children: ChildProcess[] = []

interface EmulatorStats { datagrams: number, sessions: number }
interface Emulator { port: number, nextStats: () => Promise<EmulatorStats> }
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** N emulated BMCs in their own process from `port` on; their datagram counter every 500 ms. */
async function startEmulator (port: number): Promise<Emulator> {
  const emulator = spawn(process.execPath, [join(packageRoot, 'dist', 'cli', 'opendcre.js'), 'bmc-emulator', '--host', '127.0.0.1', '--port', String(port),
    '--count', String(bmcs), '--stats-ms', '500', '--log-level', 'warn', join(packageRoot, 'emulator-configs', 'bmc-emulator.json')], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(emulator)
  const waiters: Array<(s: EmulatorStats) => void> = []
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: emulator.stdout }).on('line', (line) => {
      let event: { event?: string } & EmulatorStats
      try { event = JSON.parse(line) } catch { return }
      if (event.event === 'listening') resolve()
      if (event.event === 'stats') waiters.splice(0).forEach((w) => w(event))
    })
    emulator.once('exit', (code) => reject(new Error(`the emulator exited (${String(code)})`)))
  })
  return { port, nextStats: async () => await new Promise((resolve) => waiters.push(resolve)) }
}

interface Run { cpuUs: number, systemShare: number, requests: number, cores: number, rssMb: number }

/** User and system CPU seconds a process has used, from /proc. */
function cpuTimes (pid: number): { user: number, system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 }
}

interface Service { pid: number, stop: () => Promise<void> }

/** The service as it ships from `root`'s build, polling the emulator's BMCs. */
function startService (root: string, label: string, round: number, emulator: Emulator): Service {
  const bmcConfig = join(dir, `bmc_config-${label}.json`)
  writeFileSync(bmcConfig, JSON.stringify({
    bmcs: Array.from({ length: bmcs }, (_, i) => ({ bmc_ip: '127.0.0.1', bmc_port: emulator.port + i, username: 'ADMIN', password: 'ADMIN', cipher_suite: 3 }))
  }))
  const config = join(dir, 'opendcre_config.json')
  const eventsS = values['events-s'] === undefined ? {} : { events_s: Number(values['events-s']) }
  writeFileSync(config, JSON.stringify({ poll: { enabled: true, intervals: { ipmi: { default: interval } }, ...eventsS } }))
  const prof = values['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`, `--cpu-prof-name=${label}-${round}.cpuprofile`]
  const service = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...prof, join(root, 'dist', 'cli', 'opendcre.js'), 'serve', '--host', '127.0.0.1', '--port', '0',
    '--config', config, '--bmc-config', bmcConfig, '--log-dir', join(dir, `logs-${label}`)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(service)
  service.stdout.resume()
  return {
    pid: service.pid as number,
    stop: async () => {
      const exited = new Promise((resolve) => service.once('exit', resolve))
      service.kill('SIGTERM')
      await exited
    }
  }
}

/** Waits until every BMC is logged in and its SDR read: the requests of two intervals in a row within 5 % of each other. */
async function warmUp (emulator: Emulator): Promise<void> {
  const started = performance.now()
  let previous = -1
  for (let before = (await emulator.nextStats()).datagrams; performance.now() - started < 300_000;) {
    await sleep(interval * 1000)
    const s = await emulator.nextStats()
    const count = s.datagrams - before
    before = s.datagrams
    if (s.sessions >= bmcs && previous > 0 && Math.abs(count - previous) < 0.05 * previous) return
    previous = count
  }
}

/** The services' CPU per request over the same window. */
async function measure (services: Service[], emulators: Emulator[]): Promise<Run[]> {
  const d0 = await Promise.all(emulators.map(async (e) => (await e.nextStats()).datagrams))
  const c0 = services.map((s) => cpuTimes(s.pid))
  const t0 = performance.now()
  await sleep(windowS * 1000)
  const c1 = services.map((s) => cpuTimes(s.pid))
  const d1 = await Promise.all(emulators.map(async (e) => (await e.nextStats()).datagrams))
  const seconds = (performance.now() - t0) / 1000
  return services.map((s, i) => {
    const requests = d1[i] - d0[i]
    const cpu = c1[i].user - c0[i].user + c1[i].system - c0[i].system
    return { cpuUs: cpu / requests * 1e6, systemShare: (c1[i].system - c0[i].system) / cpu, requests: requests / seconds, cores: cpu / seconds, rssMb: rssMb(s.pid) }
  })
}

async function main (): Promise<void> {
  const cases = [...(values.baseline !== undefined ? [{ label: 'baseline', root: values.baseline }] : []), { label: 'this', root: packageRoot }]
  const emulators = await Promise.all(cases.map(async (_c, i) => await startEmulator(basePort + i * bmcs)))
  const runs = new Map<string, Run[]>(cases.map((c) => [c.label, []]))
  const ratios: number[] = []
  const coreRatios: number[] = []
  const loads: number[] = []
  for (let round = 0; round < rounds; round++) {
    // the cases side by side, each on its own emulator (swapped every round), measured over the same window: the same machine load
    const mine = cases.map((_c, i) => emulators[(i + round) % emulators.length])
    const services = cases.map((c, i) => startService(c.root, c.label, round, mine[i]))
    try {
      await Promise.all(mine.map(async (e) => await warmUp(e)))
      const measured = await measure(services, mine)
      for (const [i, c] of cases.entries()) {
        const run = measured[i]
        runs.get(c.label)?.push(run)
        process.stderr.write(`round ${round + 1} ${c.label}: ${run.cpuUs.toFixed(1)} µs CPU per request (${(100 * run.systemShare).toFixed(0)} % in the kernel), ${run.requests.toFixed(0)} requests/s, ${run.cores.toFixed(3)} core, RSS ${run.rssMb.toFixed(0)} MB, load ${loadavg()[0].toFixed(1)}\n`)
      }
      loads.push(loadavg()[0])
      if (measured.length === 2) {
        ratios.push(measured[0].cpuUs / measured[1].cpuUs)
        coreRatios.push(measured[0].cores / measured[1].cores)
      }
    } finally {
      await Promise.all(services.map(async (s) => await s.stop()))
    }
    // the emulators let go of the sessions the services closed
    await sleep(2000)
  }
  const summary = Object.fromEntries(cases.map((c) => {
    const rs = runs.get(c.label) as Run[]
    return [c.label, {
      root: c.root,
      cpu_us_per_request: rs.map((r) => Math.round(r.cpuUs * 10) / 10),
      cpu_us_per_request_median: Math.round(median(rs.map((r) => r.cpuUs)) * 10) / 10,
      kernel_share: Math.round(median(rs.map((r) => r.systemShare)) * 100) / 100,
      requests_per_s: Math.round(median(rs.map((r) => r.requests))),
      cores: Math.round(median(rs.map((r) => r.cores)) * 1000) / 1000,
      // the unit: ms of CPU a second per polled BMC
      cpu_ms_per_s_per_bmc: Math.round(median(rs.map((r) => r.cores)) / bmcs * 1e6) / 1000,
      rss_mb: Math.round(median(rs.map((r) => r.rssMb)))
    }]
  }))
  process.stdout.write(JSON.stringify({
    bmcs,
    interval_s: interval,
    events_s: values['events-s'] ?? 'default',
    window_s: windowS,
    ...summary,
    ...(ratios.length > 0 ? { baseline_over_this: ratios.map((r) => Math.round(r * 100) / 100), baseline_over_this_median: Math.round(median(ratios) * 100) / 100, cores_baseline_over_this: coreRatios.map((r) => Math.round(r * 100) / 100) } : {}),
    load_average_1m: loads.map((l) => Math.round(l * 10) / 10)
  }, null, 2) + '\n')
}

runThenCleanUp('bench:poll-cpu', main, children, dir)
