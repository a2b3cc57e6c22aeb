/**
 * Benchmarks (npm run bench): autocannon against a bare Fastify hello route
 * (the baseline) and the OpenDCRE routes on simple.json. Each server runs in
 * its own process on loopback, the load generator here. Machines here are
 * shared and noisy, so the cases are interleaved with the baseline over
 * several rounds and each figure is the median; read them as ratios to the
 * bare route of the same run.
 *
 *   npm run bench                          # 3 rounds x 5 s per case, 50 connections
 *   npm run bench -- --rounds 5 --duration 10
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { load as loadWith, median, rssMb, start, stop, type Sample } from './harness.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    'rss-requests': { type: 'string', default: '100000' }
  }
})
const duration = Number(values.duration)
const rounds = Number(values.rounds)
const connections = Number(values.connections)
const rssRequests = Number(values['rss-requests'])

async function load (url: string, seconds = duration, clients = connections, pid?: number): Promise<Sample> {
  return await loadWith(url, { seconds, connections: clients, pid })
}

const hello = await start('hello')
const dcre = await start('opendcre')
const base = `http://127.0.0.1:${dcre.port}/opendcre/1.2`
const cases: Array<[string, string, number]> = [
  ['bare Fastify hello (baseline)', `http://127.0.0.1:${hello.port}/`, hello.child.pid!],
  ['GET /test', `${base}/test`, dcre.child.pid!],
  ['GET /read/temperature/00000001/2000', `${base}/read/temperature/00000001/2000`, dcre.child.pid!],
  ['GET /scan/00000001', `${base}/scan/00000001`, dcre.child.pid!]
]
for (const [, url] of cases) await load(url, 1) // warm-up

const samples = new Map<string, Sample[]>(cases.map(([name]) => [name, []]))
const ratios = new Map<string, number[]>(cases.map(([name]) => [name, []]))
for (let round = 0; round < rounds; round++) {
  let baseline = 0
  for (const [name, url, pid] of cases) {
    const sample = await load(url, duration, connections, pid)
    if (baseline === 0) baseline = sample.rps
    samples.get(name)!.push(sample)
    ratios.get(name)!.push(sample.rps / baseline)
  }
}

// latency of one request at a time (no queueing behind other requests)
const single = new Map<string, Sample>()
for (const [name, url, pid] of cases.slice(1)) single.set(name, await load(url, Math.min(duration, 3), 1, pid))

// RSS after a fixed number of requests, from /proc; and the same with --small-memory
await autocannon({ url: `${base}/read/thermistor/00000001/0001`, connections, amount: rssRequests })
const rss = rssMb(dcre.child.pid!)
const helloRss = rssMb(hello.child.pid!)
await stop(dcre)
await stop(hello)
const small = await start('opendcre-small-memory')
const smallRead = await load(`http://127.0.0.1:${small.port}/opendcre/1.2/read/temperature/00000001/2000`)
await autocannon({ url: `http://127.0.0.1:${small.port}/opendcre/1.2/read/thermistor/00000001/0001`, connections, amount: rssRequests })
const smallRss = rssMb(small.child.pid!)
await stop(small)

// the serial path: socat PTY pair, the standalone emulator on one end, the service on the other
const ptyDir = mkdtempSync(join(tmpdir(), 'opendcre-bench-'))
const [ttyService, ttyDevice] = [join(ptyDir, 'service'), join(ptyDir, 'device')]
const socat = spawn('socat', [`pty,raw,echo=0,link=${ttyService}`, `pty,raw,echo=0,link=${ttyDevice}`], { stdio: 'ignore' })
for (let i = 0; i < 500 && !(existsSync(ttyService) && existsSync(ttyDevice)); i++) await new Promise((resolve) => setTimeout(resolve, 10))
const cli = fileURLToPath(new URL('../cli.js', import.meta.url))
const emulator = spawn(process.execPath, [cli, 'emulator', '--device', ttyDevice, '--log-level', 'warn', fileURLToPath(new URL('../../emulator-configs/simple.json', import.meta.url))], { stdio: 'ignore' })
await new Promise((resolve) => setTimeout(resolve, 500))
const serial = await start('opendcre-serial', ttyService)
const serialUrl = `http://127.0.0.1:${serial.port}/opendcre/1.2/read/temperature/00000001/2000`
await load(serialUrl, 1)
const serialRead = await load(serialUrl)
const serialSingle = await load(serialUrl, Math.min(duration, 3), 1)
await stop(serial)
emulator.kill('SIGTERM')
socat.kill('SIGTERM')
await new Promise((resolve) => setTimeout(resolve, 200))
rmSync(ptyDir, { recursive: true, force: true })
const memoryRead = samples.get('GET /read/temperature/00000001/2000')!

const fmt = (n: number, digits = 0): string => n.toFixed(digits)
const lines = [
  `node ${process.version}, ${connections} connections, ${rounds} rounds x ${duration} s per case, medians`,
  '',
  '| case | req/s | vs bare | server CPU µs/request | p50 ms | p99 ms | errors | non-2xx |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...cases.map(([name]) => {
    const s = samples.get(name)!
    const sum = (k: 'errors' | 'non2xx'): number => s.reduce((a, x) => a + x[k], 0)
    return `| ${name} | ${fmt(median(s.map((x) => x.rps)))} | ${fmt(median(ratios.get(name)!) * 100)} % | ${fmt(median(s.map((x) => x.cpuUs)))} | ` +
      `${fmt(median(s.map((x) => x.p50)), 1)} | ${fmt(median(s.map((x) => x.p99)), 1)} | ${sum('errors')} | ${sum('non2xx')} |`
  }),
  '',
  "One connection at a time (no queueing; autocannon's own per-request overhead bounds these figures)",
  '',
  '| case | req/s | ms per request | p50 ms | p99 ms |',
  '|---|---:|---:|---:|---:|',
  ...[...single].map(([name, s]) => `| ${name} | ${fmt(s.rps)} | ${fmt(1000 / s.rps, 2)} | ${fmt(s.p50, 1)} | ${fmt(s.p99, 1)} |`),
  '',
  `RSS after ${rounds * (cases.length - 1)} load runs and ${rssRequests} more requests: ` +
    `OpenDCRE ${fmt(rss, 1)} MB (bare Fastify hello process: ${fmt(helloRss, 1)} MB)`,
  '',
  'The serial path: a temperature read over a socat PTY pair to the standalone emulator process',
  '',
  '| path | connections | req/s | p50 ms | p99 ms | errors | non-2xx |',
  '|---|---:|---:|---:|---:|---:|---:|',
  `| in-process (in-memory duplex pair) | ${connections} | ${fmt(median(memoryRead.map((x) => x.rps)))} | ${fmt(median(memoryRead.map((x) => x.p50)), 1)} | ${fmt(median(memoryRead.map((x) => x.p99)), 1)} | - | - |`,
  `| PTY (serialport, socat, emulator process) | ${connections} | ${fmt(serialRead.rps)} | ${fmt(serialRead.p50, 1)} | ${fmt(serialRead.p99, 1)} | ${serialRead.errors} | ${serialRead.non2xx} |`,
  `| PTY, one request at a time | 1 | ${fmt(serialSingle.rps)} | ${fmt(serialSingle.p50, 1)} | ${fmt(serialSingle.p99, 1)} | ${serialSingle.errors} | ${serialSingle.non2xx} |`,
  '',
  `With --small-memory: RSS after ${rssRequests} requests ${fmt(smallRss, 1)} MB; ` +
    `temperature read ${fmt(smallRead.rps)} req/s, p99 ${fmt(smallRead.p99, 1)} ms`
]
process.stdout.write(lines.join('\n') + '\n')
