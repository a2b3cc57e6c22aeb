/**
 * The IPMI driver's CPU per sensor read (npm run bench:read-cpu), without the
 * HTTP layer or the poller: N BMCs of a BMC emulator process (`opendcre
 * bmc-emulator --count N`, cipher suite 3: RAKP-HMAC-SHA1, HMAC-SHA1-96,
 * AES-CBC-128), read by the bridge as the poller reads them (IpmiBus.read,
 * then sensorHealth for the threshold judgement; the power device with
 * IpmiBus.power, Get Chassis Status and DCMI), one read in flight per
 * BMC, over each BMC's own RMCP+ session. A worker process per case imports
 * the bridge from a package root's build (this checkout's, and with
 * --baseline ROOT another's, built) and logs to /dev/null at info as the
 * service does; after every BMC is logged in and a warm-up, it counts the
 * reads it completes in --seconds and its own CPU time (process.cpuUsage):
 * CPU µs per read. Cases take turns over --rounds rounds against the same
 * emulator; each round's ratio is taken within the round.
 *
 * With --alloc FILE the worker of this checkout samples allocations (V8's
 * sampling heap profiler, garbage included) and writes the bytes allocated
 * per read by function to FILE: what the garbage collector has to clear.
 *
 *   npm run bench:read-cpu -- --bmcs 200 --seconds 8 --rounds 3 --baseline /tmp/main
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Session } from 'node:inspector/promises'
import { pathToFileURL, fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { packageRoot } from '../config/paths.js'
import { median, runThenCleanUp } from './harness.js'

const { values } = parseArgs({
  options: {
    bmcs: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    baseline: { type: 'string' },
    alloc: { type: 'string' },
    // internal: run as the worker for a package root, against the emulator's first port
    worker: { type: 'string' },
    port: { type: 'string' },
    config: { type: 'string' }
  }
})
const bmcs = Number(values.bmcs)
/** The board's power device (docs/protocol.md §8.2): polled with Get Chassis Status and DCMI, as the poller does. */
const POWER_DEVICE = 0x0100
const seconds = Number(values.seconds)

interface WorkerResult { reads: number, failures: number, cpuUs: number, alloc?: Array<[string, number]> }

/** The worker: the bridge from `root`'s build, reading every BMC as fast as it answers. */
async function worker (root: string, port: number, configFile: string): Promise<void> {
  const dist = (path: string): string => pathToFileURL(join(root, 'dist', path)).href
  const { connectBmc } = await import(dist('drivers/ipmi/bridge-connection.js'))
  const { IpmiBus } = await import(dist('drivers/ipmi/ipmi-bus.js'))
  const { loadBmcConfig } = await import(dist('drivers/ipmi/bmc-config.js'))
  const pino = (await import(pathToFileURL(join(root, 'node_modules', 'pino', 'pino.js')).href)).default as any
  const log = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }))
  const entries = loadBmcConfig(configFile) as Array<{ target: { port: number } }>
  const connections = entries.map((entry, i) => connectBmc(entry, { log: log.child({ bmc: `127.0.0.1:${entry.target.port}`, board: `4000${String(i + 1).padStart(4, '0')}` }) }))
  const bus = new IpmiBus(connections)
  const boards = await bus.scanAll() as Array<{ board_id: string, devices: Array<{ device_id: string, device_type: string }> }>
  const readable = new Set(['temperature', 'fan_speed', 'voltage', 'current', 'power'])
  const plans = boards.map((b) => ({
    boardId: parseInt(b.board_id, 16),
    devices: b.devices.filter((d) => readable.has(d.device_type)).map((d) => ({ id: parseInt(d.device_id, 16), type: d.device_type }))
  })).filter((p) => p.devices.length > 0)
  let reads = 0
  let failures = 0
  const state = { running: true }
  const loop = async (plan: typeof plans[number]): Promise<void> => {
    for (let i = 0; state.running; i++) {
      const d = plan.devices[i % plan.devices.length]
      try {
        if (d.id === POWER_DEVICE) {
          await bus.power(plan.boardId, d.id, 'status')
        } else {
          await bus.read(plan.boardId, d.id, d.type)
          await bus.sensorHealth(plan.boardId, d.id)
        }
        reads++
      } catch (err) {
        if (failures++ === 0) process.stderr.write(`first failure: ${(err as Error).message}\n`)
        // a failing BMC is not asked again at once
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }
  const loops = plans.map(async (p) => await loop(p))
  await new Promise((resolve) => setTimeout(resolve, 2000))
  let session: Session | undefined
  if (values.alloc !== undefined) {
    session = new Session()
    session.connect()
    await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as any)
  }
  const r0 = reads
  const c0 = process.cpuUsage()
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const c = process.cpuUsage(c0)
  const done = reads - r0
  let alloc: Array<[string, number]> | undefined
  if (session !== undefined) {
    const { profile } = await session.post('HeapProfiler.stopSampling') as { profile: { head: any } }
    const bytes = new Map<string, number>()
    const walk = (node: any): void => {
      const cf = node.callFrame
      const key = `${cf.functionName as string || '(anon)'} ${String(cf.url).replace(/.*\/(dist|node_modules)\//, '$1/')}:${Number(cf.lineNumber) + 1}`
      const self = (node.selfSize as number) ?? 0
      if (self > 0) bytes.set(key, (bytes.get(key) ?? 0) + self)
      for (const child of node.children ?? []) walk(child)
    }
    walk(profile.head)
    alloc = [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, v]) => [k, Math.round(v / done)])
  }
  state.running = false
  await Promise.allSettled(loops)
  await bus.close()
  const result: WorkerResult = { reads: done, failures, cpuUs: (c.user + c.system) / done, alloc }
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
}

/** One worker run: its result line; its stderr passed on. */
async function runWorker (self: string, root: string, port: number, config: string, alloc?: string): Promise<WorkerResult> {
  const args = [self, '--worker', root, '--port', String(port), '--bmcs', String(bmcs), '--seconds', String(seconds), '--config', config]
  if (alloc !== undefined) args.push('--alloc', alloc)
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 300_000, maxBuffer: 1 << 22 }, (err, stdout, stderr) => {
      process.stderr.write(stderr)
      if (err !== null) reject(err)
      else resolve(stdout)
    })
  })
  return JSON.parse(out.trim().split('\n').pop() as string) as WorkerResult
}

const children: ChildProcess[] = []
const dir = mkdtempSync(join(tmpdir(), 'opendcre-bench-read-cpu-'))

async function main (): Promise<void> {
  const port = 10001 + Math.floor(Math.random() * (22000 - bmcs))
  const emulator = spawn(process.execPath, [join(packageRoot, 'dist', 'cli', 'opendcre.js'), 'bmc-emulator', '--host', '127.0.0.1', '--port', String(port),
    '--count', String(bmcs), '--log-level', 'warn', join(packageRoot, 'emulator-configs', 'bmc-emulator.json')], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(emulator)
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: emulator.stdout }).on('line', (line) => { if (line.includes('"listening"')) resolve() })
    emulator.once('exit', (code) => reject(new Error(`the emulator exited (${String(code)})`)))
  })
  const self = fileURLToPath(import.meta.url)
  const config = join(dir, 'bmc_config.json')
  writeFileSync(config, JSON.stringify({
    bmcs: Array.from({ length: bmcs }, (_, i) => ({ bmc_ip: '127.0.0.1', bmc_port: port + i, username: 'ADMIN', password: 'ADMIN', cipher_suite: 3 }))
  }))
  const cases = [...(values.baseline !== undefined ? [{ label: 'baseline', root: values.baseline }] : []), { label: 'this', root: packageRoot }]
  const runs = new Map<string, WorkerResult[]>(cases.map((c) => [c.label, []]))
  const ratios: number[] = []
  const loads: number[] = []
  for (let round = 0; round < Number(values.rounds); round++) {
    const perCase: number[] = []
    for (const c of cases) {
      const result = await runWorker(self, c.root, port, config)
      runs.get(c.label)?.push(result)
      perCase.push(result.cpuUs)
      process.stderr.write(`round ${round + 1} ${c.label}: ${result.cpuUs.toFixed(1)} µs CPU per read, ${result.reads} reads, ${result.failures} failures, load ${loadavg()[0].toFixed(1)}\n`)
    }
    loads.push(loadavg()[0])
    if (perCase.length === 2) ratios.push(perCase[0] / perCase[1])
  }
  if (values.alloc !== undefined) {
    // a run of its own: sampling every 512 bytes costs more CPU than the reads
    const result = await runWorker(self, packageRoot, port, config, values.alloc)
    writeFileSync(values.alloc, (result.alloc ?? []).map(([k, v]) => `${String(v).padStart(6)} B/read  ${k}`).join('\n') + '\n')
  }
  process.stdout.write(JSON.stringify({
    bmcs,
    seconds,
    ...Object.fromEntries(cases.map((c) => {
      const rs = runs.get(c.label) as WorkerResult[]
      return [c.label, { root: c.root, cpu_us_per_read: rs.map((r) => Math.round(r.cpuUs * 10) / 10), median: Math.round(median(rs.map((r) => r.cpuUs)) * 10) / 10, failures: rs.reduce((a, r) => a + r.failures, 0) }]
    })),
    ...(ratios.length > 0 ? { baseline_over_this: ratios.map((r) => Math.round(r * 100) / 100), baseline_over_this_median: Math.round(median(ratios) * 100) / 100 } : {}),
    load_average_1m: loads.map((l) => Math.round(l * 10) / 10)
  }, null, 2) + '\n')
}

if (values.worker !== undefined) {
  worker(values.worker, Number(values.port), values.config as string).catch((err) => {
    process.stderr.write(`bench:read-cpu worker: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  })
} else {
  runThenCleanUp('bench:read-cpu', main, children, dir)
}
