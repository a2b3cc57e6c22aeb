/**
 * What each piece of the service costs per request (npm run bench:breakdown):
 * the service built as the CLI builds it (same logging: stdout and the log
 * files at info, the audit log), then the same with one piece left out in
 * turn, then with all of them out, beside the bare Fastify route, all in one
 * run, interleaved over rounds. Diagnostics: none of the variants but the
 * first is how the service ships.
 *
 *   npm run bench:breakdown
 *   npm run bench:breakdown -- --rounds 5 --duration 5
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { interleave, rssMb, start, stop, table, type Case, type Measured, type Started } from './harness.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' }
  }
})
const duration = Number(values.duration)
const rounds = Number(values.rounds)
const connections = Number(values.connections)

const PIECES = ['helmet', 'sensible', 'cors', 'metrics', 'access-log', 'stdout', 'audit', 'poller', 'embedded']
const LABELS: Record<string, string> = {
  helmet: 'the security headers (@fastify/helmet; worked out once, set in one hook)',
  sensible: '@fastify/sensible (reply and request decorators)',
  cors: 'CORS header',
  metrics: 'Prometheus metrics (onResponse hooks)',
  'access-log': 'access log line',
  stdout: 'the log copy on stdout (files only)',
  audit: 'audit log (onResponse hook on state changes only)',
  poller: 'the poller (background reads of every sensor)',
  embedded: 'the in-process BMC and Redfish emulators'
}
const variants: Array<[string, string[]]> = [
  ['as the CLI builds it', []],
  ...PIECES.map((p): [string, string[]] => [`without ${LABELS[p]}`, [p]]),
  ['without all of these', PIECES]
]

const logDir = mkdtempSync(join(tmpdir(), 'opendcre-bench-breakdown-'))
const hello = await start('hello')
const servers: Started[] = []
for (const [i, [, leaveOut]] of variants.entries()) {
  servers.push(await start('opendcre-variant', JSON.stringify({ logDir: join(logDir, String(i)), leaveOut })))
}
const measuredBy = async (path: string): Promise<Measured[]> => {
  const cases: Case[] = [
    { name: 'bare Fastify route (baseline)', url: `http://127.0.0.1:${hello.port}/`, pid: hello.child.pid! },
    ...variants.map(([name], i) => ({ name: `${name}: GET ${path}`, url: `http://127.0.0.1:${servers[i].port}/opendcre/1.2${path}`, pid: servers[i].child.pid! }))
  ]
  return await interleave(cases, { rounds, seconds: duration, connections })
}
const test = await measuredBy('/test')
const read = await measuredBy('/read/temperature/00000001/2000')
// each variant has now answered the same load: what it holds
const rss = variants.map(([name], i) => `| ${name} | ${rssMb(servers[i].child.pid!).toFixed(1)} |`)
for (const s of servers) await stop(s)
await stop(hello)
rmSync(logDir, { recursive: true, force: true })

process.stdout.write([
  `node ${process.version}, ${cpus().length} CPUs, ${connections} connections, ${rounds} rounds x ${duration} s per case, medians`,
  '',
  ...table(test),
  '',
  ...table(read),
  '',
  '| resident memory after both runs (the same load for every variant) | RSS MB |',
  '|---|---:|',
  ...rss
].join('\n') + '\n')
