/**
 * Benchmarks (npm run bench): autocannon against a bare Fastify hello route
 * and the OpenDCRE routes on simple.json, in one run on this machine, so the
 * figures are read as ratios to the bare route. Each server runs in its own
 * process on loopback; the load generator runs here.
 *
 *   npm run bench                 # 5 s per case, 50 connections
 *   npm run bench -- --duration 10 --connections 50
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    'rss-requests': { type: 'string', default: '100000' }
  }
})
const duration = Number(values.duration)
const connections = Number(values.connections)
const rssRequests = Number(values['rss-requests'])
const serverScript = fileURLToPath(new URL('./server.js', import.meta.url))

interface Started { child: ChildProcess, port: number }

async function start (kind: string): Promise<Started> {
  const child = spawn(process.execPath, [serverScript, kind], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })
  const port = await new Promise<number>((resolve, reject) => {
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`${kind} server exited (${String(code)})`)))
  })
  return { child, port }
}

async function stop ({ child }: Started): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

interface Row { name: string, rps: number, p50: number, p99: number, errors: number, non2xx: number }

async function load (name: string, url: string, options: Partial<autocannon.Options> = {}): Promise<Row> {
  const result = await autocannon({ url, connections, duration, ...options })
  return {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx
  }
}

function rssMb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

const hello = await start('hello')
const helloRow = await load('bare Fastify hello (baseline)', `http://127.0.0.1:${hello.port}/`)
await stop(hello)

const dcre = await start('opendcre')
const base = `http://127.0.0.1:${dcre.port}/opendcre/1.2`
await load('warm-up', `${base}/read/temperature/00000001/2000`, { duration: 1 })
const rows = [
  await load('GET /test', `${base}/test`),
  await load('GET /read/temperature/00000001/2000', `${base}/read/temperature/00000001/2000`),
  await load('GET /scan/00000001', `${base}/scan/00000001`)
]
// RSS after a fixed number of requests (mixed), measured from /proc
await autocannon({ url: `${base}/read/thermistor/00000001/0001`, connections, amount: rssRequests })
const rss = rssMb(dcre.child.pid!)
await stop(dcre)

const fmt = (n: number, digits = 0): string => n.toFixed(digits)
const lines = [
  `node ${process.version}, ${connections} connections, ${duration} s per case`,
  '',
  '| case | req/s | vs bare | p50 ms | p99 ms | errors | non-2xx |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...[helloRow, ...rows].map((r) =>
    `| ${r.name} | ${fmt(r.rps)} | ${fmt(r.rps / helloRow.rps * 100)} % | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.errors} | ${r.non2xx} |`),
  '',
  `RSS of the OpenDCRE process after ${rssRequests} more requests: ${fmt(rss, 1)} MB`
]
process.stdout.write(lines.join('\n') + '\n')
