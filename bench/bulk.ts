/**
 * Bulk power at scale (npm run bench:bulk): N emulated IPMI BMCs in other
 * processes (`opendcre bmc-emulator --count N/P`, every chassis off, each taking
 * --power-on-delay ms to report on after a power-up), and the service as it
 * ships (`opendcre serve`, its node flags, logging to its log dir, the
 * poller on) with all of them in bmc_config.json. Measured, in one run:
 *
 * 1. bulk status: POST /power {"boards":"all","action":"status"}, until the
 *    task is done (the first contact: each BMC's session log-in included);
 * 2. the same again, every session up, once the poller's own first contact
 *    is over (an operator asking a running service; the emulators count the
 *    sessions: one per BMC);
 * 3. the baseline, one board at a time as the v1.2 API allows: GET
 *    /power/<board>/0100 for --sample boards, extrapolated to N;
 * 4. bulk power-on: POST /power {"action":"on","max_concurrent":K}, until
 *    every board is confirmed on by a read-back; the emulators report each
 *    power-up, merged they give the most BMCs switching at once (must be <= K);
 * 5. the baseline for power-on: --sample boards switched off, then on one at
 *    a time (GET /power/<board>/0100/on, then status until on), extrapolated.
 *
 * The BMCs run in --emulator-processes processes (default 2; a real fleet
 * has a CPU per BMC, one process of 5,000 saturates on log-ins); only the
 * service is measured.
 *
 * The service's CPU time and peak RSS during each phase are reported per
 * board.
 *
 *   npm run bench:bulk                                  # 5,000 BMCs, 200 at once
 *   npm run bench:bulk -- --bmcs 1000 --max-concurrent 100 --power-on-delay 1000
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { loadBmcEmulatorConfig } from '../emulators/bmc/bmc-emulator-config.js'
import { maxOverlap } from '../emulators/bmc/power-switching.js'
import { packageRoot } from '../config/paths.js'
import { cpuSeconds, rssMb, runThenCleanUp, startShipped, stop, type Started } from './harness.js'

const { values } = parseArgs({
  options: {
    bmcs: { type: 'string', default: '5000' },
    'max-concurrent': { type: 'string', default: '200' },
    'interval-ms': { type: 'string', default: '0' },
    'power-on-delay': { type: 'string', default: '1000' },
    sample: { type: 'string', default: '100' },
    'read-concurrency': { type: 'string', default: '64' },
    // the emulated BMCs' processes (a real fleet has a CPU per BMC; one process saturates on log-ins)
    'emulator-processes': { type: 'string', default: '2' },
    // a diagnostic: the service's poller off (poll.enabled false), so the task alone talks to the BMCs
    'no-poll': { type: 'boolean', default: false },
    // consecutive ports from here; by default every BMC on a port the system picks (a shared machine's
    // benches hold thousands of UDP ports, so a random range collides)
    'base-port': { type: 'string' }
  }
})
const bmcs = Number(values.bmcs)
const K = Number(values['max-concurrent'])
const intervalMs = Number(values['interval-ms'])
const powerOnDelay = Number(values['power-on-delay'])
const readConcurrency = Number(values['read-concurrency'])
const emulatorProcesses = Math.max(1, Math.min(bmcs, Number(values['emulator-processes'])))
const sample = Math.min(bmcs, Number(values.sample))
const basePort = values['base-port'] !== undefined ? Number(values['base-port']) : 0
const CLI = join(packageRoot, 'dist', 'cli', 'opendcre.js')
const dir = mkdtempSync(join(tmpdir(), 'opendcre-bench-bulk-'))
const children: ChildProcess[] = []

interface Stats { max_switching: number, power_ups: number, sessions: number, active_sessions: number, rss_mb: number, cpu_total_ms: number, power_up_intervals: Array<[number, number]> }

/**
 * The emulated BMCs, split over `processes` emulator processes on
 * consecutive port ranges. next() answers the processes' next statistics
 * lines summed, the most switching at once taken from every power-up any
 * process reported (exact across processes).
 */
async function emulatorFleet (processes: number): Promise<{ ports: number[], next: () => Promise<Stats> }> {
  const config = loadBmcEmulatorConfig(join(packageRoot, 'emulator-configs', 'bmc-emulator.json'))
  config.chassis = { ...config.chassis, power: 'off', power_on_delay_ms: powerOnDelay }
  const file = join(dir, 'bmc-emulator.json')
  writeFileSync(file, JSON.stringify(config))
  const per = Math.ceil(bmcs / processes)
  const intervals: Array<[number, number]> = []
  const last: Stats[] = []
  let fresh = new Set<number>()
  const waiters: Array<(s: Stats) => void> = []
  const ports: number[][] = []
  const summed = (): Stats => ({
    sessions: last.reduce((n, s) => n + s.sessions, 0),
    active_sessions: last.reduce((n, s) => n + s.active_sessions, 0),
    rss_mb: last.reduce((n, s) => n + s.rss_mb, 0),
    cpu_total_ms: last.reduce((n, s) => n + s.cpu_total_ms, 0),
    max_switching: maxOverlap(intervals),
    power_ups: intervals.length,
    power_up_intervals: []
  })
  await Promise.all(Array.from({ length: processes }, async (_, p) => {
    const count = Math.min(per, bmcs - p * per)
    const emulator = spawn(process.execPath, [CLI, 'bmc-emulator', '--host', '127.0.0.1', '--port', String(basePort === 0 ? 0 : basePort + p * per), '--count', String(count),
      '--stats-ms', '250', '--log-level', 'warn', file], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(emulator)
    await new Promise<void>((resolve, reject) => {
      emulator.once('exit', (code) => reject(new Error(`emulator process ${p} exited (${String(code)})`)))
      createInterface({ input: emulator.stdout }).on('line', (line) => {
        const event = JSON.parse(line) as { event: string, first_port: number, ports?: number[] } & Stats
        if (event.event === 'listening') {
          ports[p] = event.ports ?? Array.from({ length: count }, (_, i) => event.first_port + i)
          resolve()
        }
        if (event.event !== 'stats') return
        for (const interval of event.power_up_intervals) intervals.push(interval)
        last[p] = event
        fresh.add(p)
        if (fresh.size < processes) return
        fresh = new Set()
        const total = summed()
        waiters.splice(0).forEach((w) => w(total))
      })
    })
  }))
  return { ports: ports.flat(), next: async () => await new Promise((resolve) => waiters.push(resolve)) }
}

interface Phase { seconds: number, cpu: number, rss: number }

/** Runs fn, measuring wall time, the service's CPU seconds and peak RSS. */
async function measured<T> (pid: number, fn: () => Promise<T>): Promise<[T, Phase]> {
  const cpu0 = cpuSeconds(pid)
  let rss = rssMb(pid)
  const sampler = setInterval(() => { rss = Math.max(rss, rssMb(pid)) }, 100)
  const t0 = performance.now()
  try {
    const result = await fn()
    return [result, { seconds: (performance.now() - t0) / 1000, cpu: cpuSeconds(pid) - cpu0, rss }]
  } finally {
    clearInterval(sampler)
  }
}

async function runTask (base: string, body: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${base}/power`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (res.status !== 202) throw new Error(`POST /power: ${res.status} ${await res.text()}`)
  const { task_id: id } = await res.json() as { task_id: string }
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    // a poll that fails (a loaded machine) is tried again; the task goes on regardless
    const task = await fetch(`${base}/tasks/${id}`).then(async (r) => await r.json() as any, () => undefined)
    if (task !== undefined && task.state !== 'running') return task
  }
}

/** The failed boards' reasons, numbers and addresses left out, most frequent first. */
function reasons (task: any): string {
  const counts = new Map<string, number>()
  for (const b of task.boards as Array<{ state: string, message?: string }>) {
    if (b.state !== 'failed') continue
    const reason = (b.message ?? '').replace(/127\.0\.0\.1:\d+/g, 'BMC').replace(/\d+/g, 'N')
    counts.set(reason, (counts.get(reason) ?? 0) + 1)
  }
  if (counts.size === 0) return 'none'
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([r, n]) => `${n}× "${r}"`).join('; ')
}

const board = (i: number): string => (0x40000001 + i).toString(16)

async function main (): Promise<void> {
  const fleet = await emulatorFleet(emulatorProcesses)
  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({
    bmcs: Array.from({ length: bmcs }, (_, i) => ({ bmc_ip: '127.0.0.1', bmc_port: fleet.ports[i], username: 'ADMIN', password: 'ADMIN', cipher_suite: 3 }))
  }))
  const serviceConfig = join(dir, 'opendcre_config.json')
  writeFileSync(serviceConfig, JSON.stringify({ poll: { enabled: !values['no-poll'] } }))
  const service: Started = await startShipped(join(dir, 'logs'), ['--bmc-config', bmcConfig, ...(values['no-poll'] ? ['--config', serviceConfig] : [])])
  children.push(service.child)
  const pid = service.child.pid as number
  const base = `http://127.0.0.1:${service.port}/opendcre/1.2`
  process.stderr.write(`${bmcs} BMCs in ${emulatorProcesses} emulator processes${basePort === 0 ? '' : ` on ports ${basePort}..${basePort + bmcs - 1}`}, power-on delay ${powerOnDelay} ms; the service on ${service.port}\n`)
  const statusBody = { boards: 'all', backend: 'ipmi', action: 'status', read_concurrency: readConcurrency }

  // 1. bulk status, first contact: every session logged in (the poller logging in too)
  const [status, statusPhase] = await measured(pid, async () => await runTask(base, statusBody))
  const afterFirst = await fleet.next()
  // 2. bulk status again, every session up: an operator asking a running service, so once the
  // poller's own first contact (each BMC's SDR and first readings, spread over the 15 s IPMI
  // poll interval) is over: at least 20 s, then the service's CPU below a third of a core over
  // 2 s, or 120 s at most
  const settleStart = performance.now()
  await new Promise((resolve) => setTimeout(resolve, 20_000))
  for (;;) {
    const cpu0 = cpuSeconds(pid)
    await new Promise((resolve) => setTimeout(resolve, 2000))
    if (cpuSeconds(pid) - cpu0 < 2 / 3 || performance.now() - settleStart > 120_000) break
  }
  const settled = (performance.now() - settleStart) / 1000
  const [warm, warmPhase] = await measured(pid, async () => await runTask(base, statusBody))
  const afterWarm = await fleet.next()
  // 3. baseline: one board at a time
  const [, oneByOneStatus] = await measured(pid, async () => {
    for (let i = 0; i < sample; i++) await (await fetch(`${base}/power/${board(i)}/0100`)).arrayBuffer()
  })
  // 4. bulk power-on under the policy
  const beforeOn = await fleet.next()
  const [on, onPhase] = await measured(pid, async () =>
    await runTask(base, { boards: 'all', backend: 'ipmi', action: 'on', max_concurrent: K, interval_ms: intervalMs, read_concurrency: readConcurrency }))
  await fleet.next()
  const afterOn = await fleet.next()
  // 5. baseline: a sample off, then on one at a time, each confirmed
  for (let i = 0; i < sample; i++) await (await fetch(`${base}/power/${board(i)}/0100/off`)).arrayBuffer()
  const [, oneByOneOn] = await measured(pid, async () => {
    for (let i = 0; i < sample; i++) {
      await (await fetch(`${base}/power/${board(i)}/0100/on`)).arrayBuffer()
      for (;;) {
        const state = await (await fetch(`${base}/power/${board(i)}/0100`)).json() as { power_status: string }
        if (state.power_status === 'on') break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  })
  await stop(service)

  const f = (n: number, d = 1): string => n.toFixed(d)
  const perBoard = (p: Phase): string => `${f(p.cpu / bmcs * 1000, 2)} ms CPU/board`
  const emulatorCpu = (a: Stats, b: Stats): string => `${f((b.cpu_total_ms - a.cpu_total_ms) / bmcs, 2)} ms/board`
  const statusExtrapolated = oneByOneStatus.seconds / sample * bmcs
  const onExtrapolated = oneByOneOn.seconds / sample * bmcs
  process.stdout.write([
    `node ${process.version}; ${cpus().length} cores (load ${f(loadavg()[0])}); ${bmcs} emulated BMCs in ${emulatorProcesses} emulator process${emulatorProcesses === 1 ? '' : 'es'} (cipher suite 3), ` +
      `each off and ${powerOnDelay} ms from power-up to on; the service as shipped (${values['no-poll'] ? 'DIAGNOSTIC: poller off' : 'poller on'}), measured alone; baseline: the v1.2 single-board API, ${sample} boards one at a time, extrapolated`,
    '',
    '| figure | bulk task | one at a time (baseline) | ratio |',
    '|---|---:|---:|---:|',
    `| power state of ${bmcs} BMCs read, ${readConcurrency} at once, first contact (log-ins included) | ${f(statusPhase.seconds)} s (${status.confirmed} read, ${status.failed} failed) | ${f(statusExtrapolated)} s (${sample} in ${f(oneByOneStatus.seconds, 2)} s, sessions already up) | ${f(statusExtrapolated / statusPhase.seconds)}x |`,
    `| the same again, sessions up (${f(settled, 0)} s later, the poller's first contact over) | ${f(warmPhase.seconds)} s (${warm.confirmed} read, ${warm.failed} failed) | | ${f(statusExtrapolated / warmPhase.seconds)}x |`,
    `| ${bmcs} powered on, max_concurrent ${K}, interval_ms ${intervalMs}, each confirmed by read-back | ${f(onPhase.seconds)} s (${on.confirmed} confirmed, ${on.failed} failed) | ${f(onExtrapolated)} s (${sample} in ${f(oneByOneOn.seconds, 1)} s) | ${f(onExtrapolated / onPhase.seconds)}x |`,
    `| most BMCs switching at once (the emulators' power-ups, merged) | ${afterOn.max_switching} (limit ${K}); ${afterOn.power_ups} power-ups for ${bmcs} boards | 1 | |`,
    `| most switching at once (the task's own count) | ${String(on.max_switching)} | | |`,
    `| sessions held on the BMCs (after first contact / after the second status / after power-on) | ${afterFirst.active_sessions} / ${afterWarm.active_sessions} / ${afterOn.active_sessions} active for ${bmcs} BMCs | | |`,
    `| service CPU, status first contact / sessions up | ${f(statusPhase.cpu, 2)} s (${perBoard(statusPhase)}) / ${f(warmPhase.cpu, 2)} s (${perBoard(warmPhase)}) | | |`,
    `| service CPU, bulk power-on | ${f(onPhase.cpu, 2)} s (${perBoard(onPhase)}) | | |`,
    `| service RSS, peak (status / power-on) | ${f(Math.max(statusPhase.rss, warmPhase.rss), 0)} / ${f(onPhase.rss, 0)} MB | | |`,
    `| emulators' CPU (status, sessions up / power-on), RSS | ${emulatorCpu(afterFirst, afterWarm)} / ${emulatorCpu(beforeOn, afterOn)}, ${f(afterOn.rss_mb, 0)} MB | | |`,
    '',
    `failure reasons (status first / again / power-on): ${reasons(status)} / ${reasons(warm)} / ${reasons(on)}`,
    `targets: status < 15 s: ${String(statusPhase.seconds < 15)} (first contact), ${String(warmPhase.seconds < 15)} (sessions up); power-on < 60 s: ${String(onPhase.seconds < 60)}; ` +
      `never more than ${K}: ${String(afterOn.max_switching <= K)}; all confirmed: ${String(on.confirmed === bmcs && on.failed === 0)}`
  ].join('\n') + '\n')
}

runThenCleanUp('bench:bulk', main, children, dir)
