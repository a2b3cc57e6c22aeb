/**
 * One BMC emulator process serving a fleet (npm run bench:bmc-emulator):
 * `opendcre bmc-emulator --count 1000` on loopback, the service's IPMI bridge
 * configured with all of them (cipher suite 17), and every analog sensor
 * (temperature, fan, voltage, current, power) of every BMC read once through the bridge (GET /read/...), 32
 * requests in flight. Reported: the time it took, reads that failed, the
 * sessions the emulator holds afterwards (one per BMC: the bridge keeps its
 * sessions), and the emulator process's CPU time and RSS.
 *
 *   npm run bench:bmc-emulator
 *   npm run bench:bmc-emulator -- --count 200 --port 31000 --concurrency 32
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { loadBmcEmulatorConfig } from '../emulators/bmc/bmc-emulator-config.js'
import { packageRoot } from '../config/paths.js'
import { cpuSeconds, rssMb, startShipped, stop } from './harness.js'

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    port: { type: 'string', default: '31000' },
    concurrency: { type: 'string', default: '32' }
  }
})
const count = Number(values.count)
const firstPort = Number(values.port)
const concurrency = Number(values.concurrency)
const configFile = join(packageRoot, 'emulator-configs', 'bmc-emulator.json')
const config = loadBmcEmulatorConfig(configFile)
/** The API's device type of each analog sensor kind (discrete sensors are not readable). */
const DEVICE_TYPE: Record<string, string> = { temperature: 'temperature', fan: 'fan_speed', voltage: 'voltage', current: 'current', power: 'power' }
const sensors = config.sensors.filter((s) => DEVICE_TYPE[s.kind] !== undefined)
const dir = mkdtempSync(join(tmpdir(), 'opendcre-bench-fleet-'))

interface Stats { sessions: number, active_sessions: number, datagrams: number, rss_mb: number, cpu_total_ms: number }

const emulator = spawn(process.execPath, [join(packageRoot, 'dist', 'cli', 'opendcre.js'), 'bmc-emulator', '--host', '127.0.0.1', '--port', String(firstPort),
  '--count', String(count), '--stats-ms', '500', '--log-level', 'warn', configFile], { stdio: ['ignore', 'pipe', 'inherit'] })
let lastStats: Stats | undefined
const statsWaiters: Array<(s: Stats) => void> = []
const listening = new Promise<void>((resolve, reject) => {
  createInterface({ input: emulator.stdout }).on('line', (line) => {
    const event = JSON.parse(line) as { event: string } & Stats
    if (event.event === 'listening') resolve()
    if (event.event === 'stats') { lastStats = event; statsWaiters.splice(0).forEach((w) => w(event)) }
  })
  emulator.once('exit', (code) => reject(new Error(`the emulator exited (${String(code)})`)))
})
const nextStats = async (): Promise<Stats> => await new Promise((resolve) => statsWaiters.push(resolve))

try {
  const t0 = performance.now()
  await listening
  const startupMs = performance.now() - t0
  const pid = emulator.pid as number
  const idle = await nextStats()
  const cpuBefore = cpuSeconds(pid)
  const rssIdle = rssMb(pid)

  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({
    bmcs: Array.from({ length: count }, (_, i) => ({ bmc_ip: '127.0.0.1', bmc_port: firstPort + i, username: 'ADMIN', password: 'ADMIN', cipher_suite: 17 }))
  }))
  const service = await startShipped(join(dir, 'logs'), ['--bmc-config', bmcConfig])
  const base = `http://127.0.0.1:${service.port}/opendcre/1.2`
  const urls: string[] = []
  for (let i = 0; i < count; i++) {
    const board = (0x40000001 + i).toString(16)
    for (const s of sensors) urls.push(`${base}/read/${DEVICE_TYPE[s.kind]}/${board}/${s.number.toString(16).padStart(4, '0')}`)
  }
  let next = 0
  let failed = 0
  let maxRss = rssIdle
  const sampler = setInterval(() => { maxRss = Math.max(maxRss, rssMb(pid)) }, 200)
  const r0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < urls.length) {
      const url = urls[next++]
      const res = await fetch(url)
      await res.arrayBuffer()
      if (res.status !== 200) failed++
    }
  }))
  const readMs = performance.now() - r0
  clearInterval(sampler)
  const cpuUsed = cpuSeconds(pid) - cpuBefore
  await nextStats()
  const after = await nextStats()
  await stop(service)

  const fmt = (n: number, digits = 0): string => n.toFixed(digits)
  process.stdout.write([
    `node ${process.version}; one emulator process, --count ${count} BMCs (suites 3 and 17) on 127.0.0.1:${firstPort}-${firstPort + count - 1}; ` +
      `the bridge over cipher suite 17, ${concurrency} requests in flight`,
    '',
    '| figure | value |',
    '|---|---:|',
    `| emulator start-up (${count} sockets bound) | ${fmt(startupMs)} ms |`,
    `| emulator RSS, idle | ${fmt(rssIdle, 1)} MB |`,
    `| sensor reads through the bridge (${sensors.length} per BMC, each BMC's first read logs in and reads its SDR repository) | ${urls.length} in ${fmt(readMs / 1000, 1)} s (${fmt(urls.length / (readMs / 1000))} reads/s), ${failed} failed |`,
    `| emulator CPU during the reads | ${fmt(cpuUsed, 2)} s (${fmt(cpuUsed / (readMs / 1000) * 100)}% of one core) |`,
    `| emulator RSS, peak during the reads | ${fmt(maxRss, 1)} MB |`,
    `| sessions the emulator holds afterwards (bridge sessions are long-lived) | ${after.sessions} (${after.active_sessions} active) of ${count} BMCs |`,
    `| datagrams the emulator received | ${after.datagrams - idle.datagrams} |`
  ].join('\n') + '\n')
  if (lastStats === undefined) throw new Error('no statistics from the emulator')
} finally {
  emulator.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}
