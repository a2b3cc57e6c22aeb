/**
 * What every benchmark shares: the service started as it ships (npm start's
 * command line: the built CLI, its Node flags, its logging and defaults),
 * other servers in their own processes (bench/server.ts: the bare Fastify
 * baseline, labelled diagnostics), each away from the load generator's
 * process; autocannon load with the server's CPU time per request read from
 * /proc (robust to other load on a shared machine); cases interleaved with
 * the baseline over rounds; medians.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { DEFAULT_HTTP_LIMITS } from '../http/http-server.js'
import { packageRoot } from '../config/paths.js'

const serverScript = fileURLToPath(new URL('./server.js', import.meta.url))

export interface Started { child: ChildProcess, port: number }

/**
 * `npm start`'s command line, from package.json: `node`, Node's flags, the
 * built CLI and `serve` (test/as-shipped.test.ts checks that the CLI's
 * shebang and the Docker image's entrypoint run the same flags).
 */
export function shippedCommand (): string[] {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }
  return pkg.scripts.start.trim().split(/\s+/)
}

/** Node's flags for the service, as npm start runs it. The bare Fastify baseline runs with Node's defaults. */
export const SERVICE_NODE_FLAGS = shippedCommand().slice(1).filter((arg) => arg.startsWith('--'))

/** Reads a child's stdout line by line until `match` finds the port; then keeps draining it. */
async function portFrom (child: ChildProcess, what: string, match: (line: string) => number | undefined): Promise<number> {
  const lines = createInterface({ input: child.stdout! })
  return await new Promise<number>((resolve, reject) => {
    let found = false
    lines.on('line', (line) => {
      if (found) return
      const port = match(line)
      if (port !== undefined) {
        found = true
        resolve(port)
      }
    })
    child.once('exit', (code) => reject(new Error(`${what} exited (${String(code)})`)))
  })
}

/** Starts `node bench/server.js KIND [ARG]` and waits for the port it prints. */
export async function start (kind: string, arg?: string): Promise<Started> {
  const flags = kind === 'hello' ? [] : SERVICE_NODE_FLAGS
  const child = spawn(process.execPath, [...flags, serverScript, kind, ...(arg === undefined ? [] : [arg])], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await portFrom(child, `${kind} server`, (line) => {
    const parsed = JSON.parse(line) as { port?: number, msg?: string }
    return parsed.msg === undefined ? parsed.port : undefined
  })
  return { child, port }
}

/**
 * The service as shipped: npm start's command (the built CLI, `serve`, the
 * same Node flags), its default configuration and logging (info, stdout and
 * the log files; stdout is read and thrown away here), plus `args`; on
 * loopback, a free port, the log files in `logDir`.
 */
export async function startShipped (logDir: string, args: string[] = []): Promise<Started> {
  const [, ...command] = shippedCommand()
  const child = spawn(process.execPath, [...command, '--host', '127.0.0.1', '--port', '0', '--log-dir', logDir, ...args], { cwd: packageRoot, stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await portFrom(child, 'opendcre serve', (line) => {
    const match = /Server listening at https?:\/\/127\.0\.0\.1:(\d+)/.exec(line)
    return match === null ? undefined : Number(match[1])
  })
  return { child, port }
}

export async function stop ({ child }: Started): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/**
 * autocannon's reconnectRate: the service closes a connection after this
 * many requests (Connection: close, then Node's 503 to a client that keeps
 * sending on it); autocannon ignores the header, so it reconnects on its own
 * at the same count, as a client that honours it would.
 */
export const RECONNECT_EVERY = DEFAULT_HTTP_LIMITS.maxRequestsPerSocket

/** total: requests answered in the run (rps is autocannon's average of its per-second counts). */
export interface Sample { rps: number, total: number, p50: number, p99: number, errors: number, non2xx: number, cpuUs: number }

/** CPU seconds (user + system) a process has used, from /proc. */
export function cpuSeconds (pid: number): number {
  const { user, system } = userSystemSeconds(pid)
  return user + system
}

/** A process's CPU seconds so far, in user space and in the kernel (system calls: for a UDP poller, mostly the loopback's delivery inside sendto). */
export function userSystemSeconds (pid: number): { user: number, system: number } {
  return statCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'))
}

/**
 * CPU seconds (user + system) of each of a process's threads, summed by
 * thread name; the main thread is "main". (On Node 20 on Linux the others,
 * V8's helpers, libuv's pool and worker threads, all carry the process's
 * own name, "node".)
 */
export function threadCpuSeconds (pid: number): Record<string, number> {
  const byName: Record<string, number> = {}
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string
    try { stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8') } catch { continue } // the thread ended
    const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const { user, system } = statCpu(stat)
    byName[name] = (byName[name] ?? 0) + user + system
  }
  return byName
}

/** utime and stime of a /proc stat line, in seconds (fields 14 and 15, counted after the name, which may hold spaces and parentheses). */
function statCpu (stat: string): { user: number, system: number } {
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 }
}

/** The sum of every series of a metric in Prometheus text (each line's value is after its last space). */
export function sumMetric (text: string, name: string): number {
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}

export function rssMb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

export interface LoadOptions {
  seconds: number
  connections: number
  /** The server's pid: its CPU time per request is reported. */
  pid?: number
  headers?: Record<string, string>
  /** Client certificate, key and CA for an https:// URL. */
  tlsOptions?: { cert: Buffer, key: Buffer, ca: Buffer }
}

export async function load (url: string, options: LoadOptions): Promise<Sample> {
  const { pid } = options
  const cpuBefore = pid === undefined ? 0 : cpuSeconds(pid)
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    reconnectRate: RECONNECT_EVERY,
    headers: options.headers,
    ...(options.tlsOptions !== undefined ? { tlsOptions: options.tlsOptions } : {})
  } as autocannon.Options)
  const cpuUs = pid === undefined || result.requests.total === 0 ? NaN : (cpuSeconds(pid) - cpuBefore) / result.requests.total * 1e6
  return {
    cpuUs,
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx
  }
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

export interface Case { name: string, url: string, pid: number }

export interface Measured {
  name: string
  samples: Sample[]
  /** This case's req/s over the baseline's, per round. */
  rpsRatios: number[]
  /** This case's server CPU per request over the baseline's, per round. */
  cpuRatios: number[]
}

/**
 * Each round runs every case once, in order, the first being the baseline
 * (the bare Fastify route); ratios are taken within a round, so both sides
 * of a ratio saw the same machine load.
 */
export async function interleave (cases: Case[], options: { rounds: number, seconds: number, connections: number }): Promise<Measured[]> {
  for (const c of cases) await load(c.url, { seconds: 1, connections: options.connections, pid: c.pid }) // warm-up
  const measured = cases.map((c) => ({ name: c.name, samples: [] as Sample[], rpsRatios: [] as number[], cpuRatios: [] as number[] }))
  for (let round = 0; round < options.rounds; round++) {
    let baseline: Sample | undefined
    for (const [i, c] of cases.entries()) {
      const sample = await load(c.url, { seconds: options.seconds, connections: options.connections, pid: c.pid })
      baseline ??= sample
      measured[i].samples.push(sample)
      measured[i].rpsRatios.push(sample.rps / baseline.rps)
      measured[i].cpuRatios.push(sample.cpuUs / baseline.cpuUs)
    }
  }
  return measured
}

const fmt = (n: number, digits = 0): string => n.toFixed(digits)

/** A markdown table of interleaved cases: medians, ratios to the baseline, errors summed. */
export function table (measured: Measured[]): string[] {
  return [
    '| case | req/s | req/s vs bare | server CPU µs/request | CPU vs bare | p50 ms | p99 ms | errors | non-2xx |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...measured.map((m) => {
      const sum = (k: 'errors' | 'non2xx'): number => m.samples.reduce((a, x) => a + x[k], 0)
      return `| ${m.name} | ${fmt(median(m.samples.map((x) => x.rps)))} | ${fmt(median(m.rpsRatios) * 100)} % | ` +
        `${fmt(median(m.samples.map((x) => x.cpuUs)))} | ${fmt(median(m.cpuRatios), 2)}x | ` +
        `${fmt(median(m.samples.map((x) => x.p50)), 1)} | ${fmt(median(m.samples.map((x) => x.p99)), 1)} | ${sum('errors')} | ${sum('non2xx')} |`
    })
  ]
}

/**
 * Runs a bench's main, then stops every process it started (SIGTERM, each
 * awaited) and removes its scratch folder, whether main succeeded or not; a
 * failure is reported as `name: message` and sets the exit code.
 */
export function runThenCleanUp (name: string, main: () => Promise<void>, children: ChildProcess[], dir: string): void {
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
    process.stderr.write(`${name}: ${(err as Error).message}\n`)
    await cleanup()
    process.exitCode = 1
  })
}
