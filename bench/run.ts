/**
 * Benchmarks (npm run bench): the service as it ships against a bare Fastify
 * route, in the same run. The service is started with npm start's command
 * line (the built CLI, `serve`, its Node flags), its default configuration
 * (the emulator on simple.json, authentication off) and its logging (one
 * access line per request at info, to stdout and the log files, and the audit
 * log). Each server runs in its own process on loopback, autocannon here.
 * Machines here are shared and noisy, so the cases are interleaved with the
 * baseline over several rounds, each figure is the median, and the ratios to
 * the bare route are taken within a round; the server's CPU time per request
 * (from /proc) is the steadiest figure. A `logger: false` build of the
 * service is measured too, labelled as the diagnostic it is.
 *
 *   npm run bench                          # 3 rounds x 5 s per case, 50 connections
 *   npm run bench -- --rounds 5 --duration 10
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { packageRoot } from '../config/paths.js'
import { interleave, load as loadWith, median, RECONNECT_EVERY, rssMb, shippedCommand, start, startShipped, stop, table, type Sample } from './harness.js'

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

const logDir = mkdtempSync(join(tmpdir(), 'opendcre-bench-logs-'))
const api = (port: number, path: string): string => `http://127.0.0.1:${port}/opendcre/1.2${path}`

const hello = await start('hello')
const shipped = await startShipped(logDir)
const diagnostic = await start('opendcre')
const measured = await interleave([
  { name: 'bare Fastify route (baseline)', url: `http://127.0.0.1:${hello.port}/`, pid: hello.child.pid! },
  { name: 'as shipped: GET /test', url: api(shipped.port, '/test'), pid: shipped.child.pid! },
  { name: 'as shipped: GET /read/temperature/00000001/2000', url: api(shipped.port, '/read/temperature/00000001/2000'), pid: shipped.child.pid! },
  { name: 'as shipped: GET /scan/00000001', url: api(shipped.port, '/scan/00000001'), pid: shipped.child.pid! },
  { name: 'diagnostic, `logger: false` (not shipped): GET /test', url: api(diagnostic.port, '/test'), pid: diagnostic.child.pid! },
  { name: 'diagnostic, `logger: false` (not shipped): GET /read/temperature/00000001/2000', url: api(diagnostic.port, '/read/temperature/00000001/2000'), pid: diagnostic.child.pid! }
], { rounds, seconds: duration, connections })

// latency of one request at a time (no queueing behind other requests)
const single = new Map<string, Sample>()
for (const path of ['/test', '/read/temperature/00000001/2000', '/scan/00000001']) {
  single.set(`as shipped: GET ${path}`, await load(api(shipped.port, path), Math.min(duration, 3), 1, shipped.child.pid))
}
await stop(shipped)
await stop(diagnostic)

// RSS after a fixed number of requests, from /proc: a fresh service, the same for the bare route; and with --small-memory
const rssAfter = async (url: string, pid: number): Promise<number> => {
  await autocannon({ url, connections, amount: rssRequests, reconnectRate: RECONNECT_EVERY })
  return rssMb(pid)
}
const fresh = await startShipped(logDir)
const rss = await rssAfter(api(fresh.port, '/read/thermistor/00000001/0001'), fresh.child.pid!)
await stop(fresh)
const helloRss = await rssAfter(`http://127.0.0.1:${hello.port}/`, hello.child.pid!)
await stop(hello)
const small = await startShipped(logDir, ['--small-memory'])
const smallRss = await rssAfter(api(small.port, '/read/thermistor/00000001/0001'), small.child.pid!)
const smallRead = await load(api(small.port, '/read/temperature/00000001/2000'), duration, connections, small.child.pid)
await stop(small)

// the serial path: socat PTY pair, the standalone emulator on one end, the service as shipped (--serial) on the other
const ptyDir = mkdtempSync(join(tmpdir(), 'opendcre-bench-'))
const [ttyService, ttyDevice] = [join(ptyDir, 'service'), join(ptyDir, 'device')]
const socat = spawn('socat', [`pty,raw,echo=0,link=${ttyService}`, `pty,raw,echo=0,link=${ttyDevice}`], { stdio: 'ignore' })
for (let i = 0; i < 500 && !(existsSync(ttyService) && existsSync(ttyDevice)); i++) await new Promise((resolve) => setTimeout(resolve, 10))
const cli = join(packageRoot, 'dist', 'cli', 'opendcre.js')
const emulator = spawn(process.execPath, [cli, 'emulator', '--device', ttyDevice, '--log-level', 'warn', join(packageRoot, 'emulator-configs', 'simple.json')], { stdio: 'ignore' })
await new Promise((resolve) => setTimeout(resolve, 500))
const serial = await startShipped(logDir, ['--serial', ttyService])
const serialUrl = api(serial.port, '/read/temperature/00000001/2000')
await load(serialUrl, 1)
const serialRead = await load(serialUrl, duration, connections, serial.child.pid)
const serialSingle = await load(serialUrl, Math.min(duration, 3), 1, serial.child.pid)
await stop(serial)
emulator.kill('SIGTERM')
socat.kill('SIGTERM')
await new Promise((resolve) => setTimeout(resolve, 200))
rmSync(ptyDir, { recursive: true, force: true })
rmSync(logDir, { recursive: true, force: true })

const fmt = (n: number, digits = 0): string => n.toFixed(digits)
const lines = [
  `node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${connections} connections, ${rounds} rounds x ${duration} s per case, medians`,
  `as shipped: ${shippedCommand().join(' ')} --host 127.0.0.1 --port 0 --log-dir DIR (its default: the device-bus emulator on simple.json, two emulated BMCs, an emulated Redfish server, the poller; log level info; stdout read by the bench)`,
  '',
  ...table(measured),
  '',
  "One connection at a time (no queueing; autocannon's own per-request overhead bounds these figures)",
  '',
  '| case | req/s | ms per request | p50 ms | p99 ms | server CPU µs/request | errors | non-2xx |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...[...single].map(([name, s]) => `| ${name} | ${fmt(s.rps)} | ${fmt(1000 / s.rps, 2)} | ${fmt(s.p50, 1)} | ${fmt(s.p99, 1)} | ${fmt(s.cpuUs)} | ${s.errors} | ${s.non2xx} |`),
  '',
  `RSS after ${rssRequests} requests (${connections} connections) to a freshly started process: ` +
    `as shipped ${fmt(rss, 1)} MB; with --small-memory ${fmt(smallRss, 1)} MB; the bare Fastify route's process, after the whole run and ${rssRequests} more, ${fmt(helloRss, 1)} MB`,
  `With --small-memory: temperature read ${fmt(smallRead.rps)} req/s, p99 ${fmt(smallRead.p99, 1)} ms, server CPU ${fmt(smallRead.cpuUs)} µs/request`,
  '',
  'The serial path, as shipped with --serial: a temperature read over a socat PTY pair to the standalone emulator process',
  '',
  '| path | connections | req/s | p50 ms | p99 ms | server CPU µs/request | errors | non-2xx |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  `| in-process emulator (default configuration) | ${connections} | ${fmt(median(measured[2].samples.map((x) => x.rps)))} | ${fmt(median(measured[2].samples.map((x) => x.p50)), 1)} | ${fmt(median(measured[2].samples.map((x) => x.p99)), 1)} | ${fmt(median(measured[2].samples.map((x) => x.cpuUs)))} | - | - |`,
  `| PTY (serialport, socat, emulator process) | ${connections} | ${fmt(serialRead.rps)} | ${fmt(serialRead.p50, 1)} | ${fmt(serialRead.p99, 1)} | ${fmt(serialRead.cpuUs)} | ${serialRead.errors} | ${serialRead.non2xx} |`,
  `| PTY, one request at a time | 1 | ${fmt(serialSingle.rps)} | ${fmt(serialSingle.p50, 1)} | ${fmt(serialSingle.p99, 1)} | ${fmt(serialSingle.cpuUs)} | ${serialSingle.errors} | ${serialSingle.non2xx} |`
]
process.stdout.write(lines.join('\n') + '\n')
