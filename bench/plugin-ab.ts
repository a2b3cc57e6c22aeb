/**
 * The per-request CPU cost of @fastify/helmet and @fastify/sensible, in one
 * process: the service (logger off, no poller) built three times, as built
 * and without each plugin (AppOptions.leaveOut, a diagnostic), answering
 * GET /test by app.inject, interleaved over rounds; the process's CPU time
 * per request, medians. No sockets, so the HTTP parser and the kernel are
 * left out: what remains is what the plugins add.
 *
 *   npm run build:bench && node dist/bench/plugin-ab.js
 */
import { buildServer } from '../server.js'
import type { AppOptions } from '../app.js'

const VARIANTS: Array<[string, NonNullable<AppOptions['leaveOut']>]> = [['as built', []], ['without @fastify/helmet', ['helmet']], ['without @fastify/sensible', ['sensible']]]
const REQUESTS = 3000
const ROUNDS = 5

const apps = []
for (const [, leaveOut] of VARIANTS) apps.push(await buildServer({ logger: false, leaveOut, poll: false }))
const cpu: number[][] = VARIANTS.map(() => [])
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, app] of apps.entries()) {
    const start = process.cpuUsage()
    for (let k = 0; k < REQUESTS; k++) await app.inject({ url: '/opendcre/1.2/test' })
    const used = process.cpuUsage(start)
    cpu[i].push((used.user + used.system) / REQUESTS)
  }
}
for (const app of apps) await app.close()
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
process.stdout.write(VARIANTS.map(([name], i) => `| ${name} | ${median(cpu[i]).toFixed(1)} µs |`).join('\n') + '\n')
