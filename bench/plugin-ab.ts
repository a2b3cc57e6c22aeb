/**
 * What the security headers cost per request, over HTTP: one bare Fastify
 * route in three processes (Node's defaults, no logger), interleaved over
 * rounds under autocannon, server CPU per request from /proc, medians and
 * ratios to the first within each round:
 *
 * - no security headers (the baseline);
 * - the headers as the service sets them (plugins/security-headers.ts:
 *   helmet's answer worked out once at startup, set in one hook);
 * - @fastify/helmet registered the plain way, which rebuilds helmet's
 *   middleware from its options and runs it on every request (as the
 *   service did before);
 * - a diagnostic: @fastify/helmet registered with `global: false` alone
 *   (its two hooks still run on every request, setting nothing): why the
 *   service does not register it on the app.
 *
 * The same options (the service's, helmetForAJsonApi) on all of them.
 * Compare the plugin variants with each other: any fastify-plugin plugin
 * with a hook adds ~4 µs to a one-route app that the same hook added
 * directly does not (docs/benchmarks.md), which the ratios to the baseline
 * include.
 * app.inject is not used: light-my-request's response object handles
 * headers differently from Node's, and its cost swamps theirs.
 *
 *   npm run build:bench && node dist/bench/plugin-ab.js [--rounds 5 --duration 4]
 */
import { spawn } from 'node:child_process'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import fastifyHelmet from '@fastify/helmet'
import Fastify from 'fastify'
import securityHeaders, { helmetForAJsonApi } from '../plugins/security-headers.js'
import { interleave, stop, table, type Started } from './harness.js'

const { values } = parseArgs({
  options: {
    serve: { type: 'string' },
    duration: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' }
  }
})

const KINDS = {
  none: 'bare route, no security headers (baseline)',
  precomputed: 'bare route + the headers worked out once (plugins/security-headers.ts)',
  'per-request': 'bare route + @fastify/helmet per request (as before)',
  'plugin-only': 'diagnostic: bare route + only @fastify/helmet with global: false (no headers)'
} as const
type Kind = keyof typeof KINDS

async function serve (kind: Kind): Promise<void> {
  const app = Fastify({ logger: false })
  if (kind === 'precomputed') await app.register(securityHeaders, helmetForAJsonApi(false))
  if (kind === 'per-request') await app.register(fastifyHelmet, helmetForAJsonApi(false))
  if (kind === 'plugin-only') await app.register(fastifyHelmet, { ...helmetForAJsonApi(false), global: false })
  app.get('/', async () => ({ status: 'ok' }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 }) + '\n')
  process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}

async function start (kind: Kind): Promise<Started> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', kind], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => { resolve((JSON.parse(chunk.toString().split('\n')[0]) as { port: number }).port) })
    child.once('exit', (code) => reject(new Error(`${kind} server exited (${String(code)})`)))
  })
  return { child, port }
}

if (values.serve !== undefined) {
  await serve(values.serve as Kind)
} else {
  const rounds = Number(values.rounds)
  const seconds = Number(values.duration)
  const connections = Number(values.connections)
  const kinds = Object.keys(KINDS) as Kind[]
  const servers: Started[] = []
  for (const kind of kinds) servers.push(await start(kind))
  const measured = await interleave(kinds.map((kind, i) => ({ name: KINDS[kind], url: `http://127.0.0.1:${servers[i].port}/`, pid: servers[i].child.pid! })), { rounds, seconds, connections })
  for (const server of servers) await stop(server)
  process.stdout.write([`node ${process.version}, ${cpus().length} CPUs, ${connections} connections, ${rounds} rounds x ${seconds} s per case, medians`, '', ...table(measured)].join('\n') + '\n')
}
