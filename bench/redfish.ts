/**
 * The Redfish backend (npm run bench:redfish), against our Redfish BMC
 * emulator (`opendcre redfish-emulator`, its own process) on loopback:
 *
 * 1. Sensor reads through the backend (GET /read/temperature/70000001/1001:
 *    one pooled keep-alive connection set and one session) versus
 *    `redfishtool raw GET` of the same Sensor (a process, a session log-in
 *    and log-out per call) against the same emulator, interleaved over
 *    several rounds: reads per second of each, and their ratio.
 * 2. GET /scan over 50 emulated Redfish servers: the first (cold: 50 log-ins
 *    and discoveries in parallel) and the following ones (warm: discovery
 *    reused for 60 s).
 *
 *   npm run bench:redfish
 *   npm run bench:redfish -- --rounds 5 --duration 5 --servers 50
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { packageRoot } from '../config/paths.js'
import { load, median, startShipped, stop, type Sample } from './harness.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    servers: { type: 'string', default: '50' }
  }
})
const duration = Number(values.duration)
const rounds = Number(values.rounds)
const serverCount = Number(values.servers)
const dir = mkdtempSync(join(tmpdir(), 'opendcre-bench-redfish-'))
const children: ChildProcess[] = []

/** `opendcre redfish-emulator --port 0 --count N` in its own process; resolves with the servers' URLs. */
async function emulators (count: number): Promise<string[]> {
  const child = spawn(process.execPath, [join(packageRoot, 'dist', 'cli', 'opendcre.js'), 'redfish-emulator', '--port', '0', '--count', String(count)], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  const urls: string[] = []
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /listening at (http:\/\/[\d.:]+)/.exec(line)
      if (match !== null) urls.push(match[1])
      if (urls.length === count) resolve()
    })
    child.once('exit', (code) => reject(new Error(`the emulator exited (${String(code)})`)))
  })
  return urls
}

function redfishConfig (urls: string[]): string {
  const file = join(dir, `redfish_config-${urls.length}.json`)
  writeFileSync(file, JSON.stringify({ servers: urls.map((url) => ({ url, username: 'ADMIN', password: 'ADMIN' })) }))
  return file
}

async function redfishtoolReads (url: string, seconds: number): Promise<number> {
  const args = ['-r', new URL(url).host, '-S', 'Never', '-A', 'Session', '-u', 'ADMIN', '-p', 'ADMIN', 'raw', 'GET', '/redfish/v1/Chassis/1/Sensors/CPU1_Temp']
  const until = Date.now() + seconds * 1000
  const started = Date.now()
  let calls = 0
  while (Date.now() < until) {
    await new Promise<void>((resolve, reject) => {
      execFile('redfishtool', args, { timeout: 10_000 }, (err, stdout) => {
        if (err !== null || !/"Reading":/.test(stdout)) reject(new Error(`redfishtool failed: ${err?.message ?? stdout}`))
        else resolve()
      })
    })
    calls++
  }
  return calls / ((Date.now() - started) / 1000)
}

try {
  // 1. reads per second: the backend's pool and session against one redfishtool process per call
  const [emu] = await emulators(1)
  const one = await startShipped(join(dir, 'logs'), ['--redfish-config', redfishConfig([emu])])
  const url = `http://127.0.0.1:${one.port}/opendcre/1.2/read/temperature/70000001/1001`
  const warm = await load(url, { seconds: 1, connections: 1 })
  if (warm.non2xx > 0 || warm.errors > 0) throw new Error('the backend did not read the sensor')
  const backend1: Sample[] = []
  const backend10: Sample[] = []
  const tool: number[] = []
  for (let round = 0; round < rounds; round++) {
    backend1.push(await load(url, { seconds: duration, connections: 1, pid: one.child.pid }))
    tool.push(await redfishtoolReads(emu, duration))
    backend10.push(await load(url, { seconds: duration, connections: 10, pid: one.child.pid }))
  }
  await stop(one)

  // 2. scan over many emulated servers
  const urls = await emulators(serverCount)
  const many = await startShipped(join(dir, 'logs'), ['--redfish-config', redfishConfig(urls)])
  const scanUrl = `http://127.0.0.1:${many.port}/opendcre/1.2/scan`
  const timeScan = async (): Promise<{ ms: number, complete: number }> => {
    const t0 = performance.now()
    const body = await (await fetch(scanUrl)).json() as { boards: Array<{ board_id: string, devices: unknown[] }> }
    const ms = performance.now() - t0
    const redfish = body.boards.filter((b) => b.board_id.startsWith('7'))
    if (redfish.length !== serverCount) throw new Error(`scan listed ${redfish.length} Redfish boards, not ${serverCount}`)
    return { ms, complete: redfish.filter((b) => b.devices.length === 11).length }
  }
  const cold = await timeScan()
  const warmScans: Array<{ ms: number, complete: number }> = []
  for (let i = 0; i < 10; i++) warmScans.push(await timeScan())
  await stop(many)

  const fmt = (n: number, digits = 0): string => n.toFixed(digits)
  const rps1 = median(backend1.map((s) => s.rps))
  const rps10 = median(backend10.map((s) => s.rps))
  const toolRps = median(tool)
  const ratios = backend1.map((s, i) => s.rps / tool[i])
  process.stdout.write([
    `node ${process.version}, the Redfish emulator in its own process on loopback (HTTP, SessionService); ${rounds} rounds x ${duration} s, medians`,
    '',
    '| sensor read | reads/s | p50 ms | p99 ms | server CPU µs/read |',
    '|---|---:|---:|---:|---:|',
    `| backend, GET /read/temperature/70000001/1001, 1 connection | ${fmt(rps1)} | ${fmt(median(backend1.map((s) => s.p50)), 1)} | ${fmt(median(backend1.map((s) => s.p99)), 1)} | ${fmt(median(backend1.map((s) => s.cpuUs)))} |`,
    `| backend, same, 10 connections | ${fmt(rps10)} | ${fmt(median(backend10.map((s) => s.p50)), 1)} | ${fmt(median(backend10.map((s) => s.p99)), 1)} | ${fmt(median(backend10.map((s) => s.cpuUs)))} |`,
    `| redfishtool raw GET of the Sensor, one process (and session) per call | ${fmt(toolRps, 1)} | ${fmt(1000 / toolRps, 1)} | - | - |`,
    '',
    `Backend / redfishtool, same round: ${fmt(median(ratios), 1)}x (rounds: ${ratios.map((r) => `${fmt(r, 1)}x`).join(', ')})`,
    '',
    `GET /scan over ${serverCount} emulated Redfish servers (plus the emulator's bus boards): cold ${fmt(cold.ms)} ms ` +
      `(${cold.complete}/${serverCount} listed with their sensors within the 2 s budget), ` +
      `warm median ${fmt(median(warmScans.map((s) => s.ms)))} ms, max ${fmt(Math.max(...warmScans.map((s) => s.ms)))} ms over ${warmScans.length} scans ` +
      `(${Math.min(...warmScans.map((s) => s.complete))}/${serverCount} complete in each)`
  ].join('\n') + '\n')
} finally {
  for (const child of children) child.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}
