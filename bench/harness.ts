/**
 * What every benchmark shares: servers in their own processes (bench/server.ts)
 * so the load generator does not share their core, autocannon load with the
 * server's CPU time per request read from /proc (robust to other load on a
 * shared machine), medians.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const serverScript = fileURLToPath(new URL('./server.js', import.meta.url))

export interface Started { child: ChildProcess, port: number }

/**
 * Node's flags for the service, as `npm start`, the CLI's shebang and the
 * Docker image run it: an 8 MB young generation and an old generation let
 * grow by half its live size between full collections (docs/monitoring.md,
 * the fleet figures). The bare Fastify baseline runs with Node's defaults.
 */
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50']

/** Starts `node bench/server.js KIND [ARG]` and waits for the port it prints. */
export async function start (kind: string, arg?: string): Promise<Started> {
  const flags = kind === 'hello' ? [] : SERVICE_NODE_FLAGS
  const child = spawn(process.execPath, [...flags, serverScript, kind, ...(arg === undefined ? [] : [arg])], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })
  const port = await new Promise<number>((resolve, reject) => {
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`${kind} server exited (${String(code)})`)))
  })
  return { child, port }
}

export async function stop ({ child }: Started): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

export interface Sample { rps: number, p50: number, p99: number, errors: number, non2xx: number, cpuUs: number }

/** CPU seconds (user + system) a process has used, from /proc. */
export function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
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
    headers: options.headers,
    ...(options.tlsOptions !== undefined ? { tlsOptions: options.tlsOptions } : {})
  } as autocannon.Options)
  const cpuUs = pid === undefined || result.requests.total === 0 ? NaN : (cpuSeconds(pid) - cpuBefore) / result.requests.total * 1e6
  return {
    cpuUs,
    rps: result.requests.average,
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
