/**
 * The IPMI bridge (npm run bench:ipmi), against OpenIPMI's ipmi_sim on
 * loopback, in one run:
 *
 * The service runs as shipped (npm start's command line, its logging and
 * defaults, plus --bmc-config), beside the bare Fastify route.
 *
 * 1. Sensor reads through the bridge (GET /read/temperature/40000001/0001,
 *    one long-lived RMCP+ session, cipher suite 3): server CPU per read and
 *    its ratio to the bare route's per request, same round; versus `ipmitool -I lanplus
 *    -C 3 sensor reading` (a process, a session set-up and a close per call)
 *    against the same simulator, interleaved over several rounds: reads per
 *    second of each, and their ratio (target: the bridge >= 10x).
 * 2. GET /scan over 20 simulated BMCs: the first scan (20 log-ins and SDR
 *    repositories read, in parallel) and the following ones (SDRs cached):
 *    target < 1 s.
 * 3. Cipher suite 17 (RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128), which
 *    ipmi_sim lacks: the same comparison against the BMC emulator
 *    (`opendcre bmc-emulator emulator-configs/bmc-emulator.json`, its own
 *    process), the bridge versus `ipmitool -C 17 sensor reading` per call.
 *
 *   npm run bench:ipmi
 *   npm run bench:ipmi -- --rounds 5 --duration 5 --bmcs 20
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { packageRoot } from '../config/paths.js'
import { freeUdpPort, startSim, waitForBmc, type Sim } from '../test/ipmi/sim.js'
import { load, median, start, startShipped, stop, sumMetric, type Sample } from './harness.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    bmcs: { type: 'string', default: '20' }
  }
})
const duration = Number(values.duration)
const rounds = Number(values.rounds)
const bmcCount = Number(values.bmcs)

const cleanups: Array<() => unknown> = []
const teardown = { teardown: (fn: () => unknown) => { cleanups.push(fn) } }
const dir = mkdtempSync(join(tmpdir(), 'opendcre-bench-ipmi-'))
const emu = join(packageRoot, 'test', 'fixtures', 'ipmi', 'bmc-a.emu')

function bmcConfig (sims: Sim[]): string {
  const file = join(dir, `bmc_config-${sims.length}.json`)
  writeFileSync(file, JSON.stringify({
    bmcs: sims.map((sim) => ({
      bmc_ip: sim.host,
      bmc_port: sim.port,
      username: sim.user,
      password: sim.password,
      auth_type: 'RAKP_HMAC_SHA1',
      integrity_type: 'HMAC_SHA1_96',
      encryption_type: 'AES_CBC_128'
    }))
  }))
  return file
}

async function ipmitoolReads (sim: Pick<Sim, 'host' | 'port' | 'user' | 'password'>, seconds: number, suite = 3, expect = /CPU1 Temp\s+\| 48\.5/): Promise<number> {
  const args = ['-I', 'lanplus', '-H', sim.host, '-p', String(sim.port), '-U', sim.user, '-P', sim.password, '-C', String(suite), 'sensor', 'reading', 'CPU1 Temp']
  const until = Date.now() + seconds * 1000
  const started = Date.now()
  let calls = 0
  while (Date.now() < until) {
    await new Promise<void>((resolve, reject) => {
      execFile('ipmitool', args, { timeout: 10_000 }, (err, stdout) => {
        if (err !== null || !expect.test(stdout)) reject(new Error(`ipmitool failed: ${err?.message ?? stdout}`))
        else resolve()
      })
    })
    calls++
  }
  return calls / ((Date.now() - started) / 1000)
}

try {
  // 1. reads per second: the bridge's session against one ipmitool process per call
  const sim = await startSim(teardown, { name: 'bench', emu })
  const hello = await start('hello')
  const helloUrl = `http://127.0.0.1:${hello.port}/`
  const one = await startShipped(join(dir, 'logs'), ['--bmc-config', bmcConfig([sim])])
  const url = `http://127.0.0.1:${one.port}/opendcre/1.2/read/temperature/40000001/0001`
  const warm = await load(url, { seconds: 1, connections: 1 })
  if (warm.non2xx > 0 || warm.errors > 0) throw new Error('the bridge did not read the sensor')
  const bridge1: Sample[] = []
  const bridge10: Sample[] = []
  const bare10: Sample[] = []
  // requests the bridge sent its BMC per read answered: identical reads in flight share one, so 10 connections can take fewer than 1
  const perRead1: number[] = []
  const perRead10: number[] = []
  const bmcRequests = async (): Promise<number> => {
    return sumMetric(await (await fetch(`http://127.0.0.1:${one.port}/metrics`)).text(), 'opendcre_ipmi_requests_total')
  }
  const counted = async (connections: number, perRead: number[]): Promise<Sample> => {
    const before = await bmcRequests()
    const sample = await load(url, { seconds: duration, connections, pid: one.child.pid })
    perRead.push((await bmcRequests() - before) / sample.total)
    return sample
  }
  const tool: number[] = []
  for (let round = 0; round < rounds; round++) {
    bare10.push(await load(helloUrl, { seconds: duration, connections: 10, pid: hello.child.pid }))
    bridge1.push(await counted(1, perRead1))
    tool.push(await ipmitoolReads(sim, duration))
    bridge10.push(await counted(10, perRead10))
  }
  await stop(one)
  await stop(hello)
  await sim.stop()

  // 2. scan over many BMCs
  const sims: Sim[] = []
  for (let i = 0; i < bmcCount; i++) sims.push(await startSim(teardown, { name: `bmc${i}`, emu }))
  const many = await startShipped(join(dir, 'logs'), ['--bmc-config', bmcConfig(sims)])
  const scanUrl = `http://127.0.0.1:${many.port}/opendcre/1.2/scan`
  const timeScan = async (): Promise<number> => {
    const t0 = performance.now()
    const res = await fetch(scanUrl)
    const body = await res.json() as { boards: Array<{ board_id: string, devices: unknown[] }> }
    const ms = performance.now() - t0
    const ipmi = body.boards.filter((b) => b.board_id.startsWith('4'))
    if (ipmi.length !== bmcCount || ipmi.some((b) => b.devices.length < 3)) throw new Error('scan did not list every BMC with its sensors')
    return ms
  }
  const cold = await timeScan()
  const warmScans: number[] = []
  for (let i = 0; i < 10; i++) warmScans.push(await timeScan())
  await stop(many)
  for (const sim of sims) await sim.stop()

  // 3. suite 17 against the BMC emulator in its own process
  const emuPort = await freeUdpPort()
  const emulator: ChildProcess = spawn(process.execPath, [join(packageRoot, 'dist', 'cli', 'opendcre.js'), 'bmc-emulator', '--host', '127.0.0.1', '--port', String(emuPort),
    join(packageRoot, 'emulator-configs', 'bmc-emulator.json')], { stdio: 'ignore' })
  cleanups.push(async () => { if (emulator.exitCode === null) { emulator.kill(); await new Promise((resolve) => emulator.once('exit', resolve)) } })
  if (!await waitForBmc('127.0.0.1', emuPort, 10_000)) throw new Error('the BMC emulator did not answer')
  const emuBmc = { host: '127.0.0.1', port: emuPort, user: 'ADMIN', password: 'ADMIN' }
  const file17 = join(dir, 'bmc_config-17.json')
  writeFileSync(file17, JSON.stringify({ bmcs: [{ bmc_ip: '127.0.0.1', bmc_port: emuPort, username: 'ADMIN', password: 'ADMIN', cipher_suite: 17 }] }))
  const s17 = await startShipped(join(dir, 'logs'), ['--bmc-config', file17])
  const url17 = `http://127.0.0.1:${s17.port}/opendcre/1.2/read/temperature/40000001/0001`
  const warm17 = await load(url17, { seconds: 1, connections: 1 })
  if (warm17.non2xx > 0 || warm17.errors > 0) throw new Error('the bridge did not read the emulated sensor over suite 17')
  const bridge17: Sample[] = []
  const tool17: number[] = []
  for (let round = 0; round < rounds; round++) {
    bridge17.push(await load(url17, { seconds: duration, connections: 1, pid: s17.child.pid }))
    tool17.push(await ipmitoolReads(emuBmc, duration, 17, /CPU1 Temp\s+\| \d+/))
  }
  await stop(s17)

  const fmt = (n: number, digits = 0): string => n.toFixed(digits)
  const rps1 = median(bridge1.map((s) => s.rps))
  const rps10 = median(bridge10.map((s) => s.rps))
  const toolRps = median(tool)
  const ratios = bridge1.map((s, i) => s.rps / tool[i])
  process.stdout.write([
    `node ${process.version}, ipmi_sim on loopback, cipher suite 3 (RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128); ${rounds} rounds x ${duration} s, medians`,
    'the service as shipped (npm start\'s command line, logging at info) with --bmc-config',
    '',
    '| sensor read | reads/s | p50 ms | p99 ms | server CPU µs/read | CPU vs bare |',
    '|---|---:|---:|---:|---:|---:|',
    `| bare Fastify route (baseline), 10 connections | ${fmt(median(bare10.map((s) => s.rps)))} | ${fmt(median(bare10.map((s) => s.p50)), 1)} | ${fmt(median(bare10.map((s) => s.p99)), 1)} | ${fmt(median(bare10.map((s) => s.cpuUs)))} | 1.00x |`,
    `| bridge, GET /read/temperature/40000001/0001, 1 connection | ${fmt(rps1)} | ${fmt(median(bridge1.map((s) => s.p50)), 1)} | ${fmt(median(bridge1.map((s) => s.p99)), 1)} | ${fmt(median(bridge1.map((s) => s.cpuUs)))} | ${fmt(median(bridge1.map((s, i) => s.cpuUs / bare10[i].cpuUs)), 2)}x |`,
    `| bridge, same, 10 connections (one request in flight per BMC) | ${fmt(rps10)} | ${fmt(median(bridge10.map((s) => s.p50)), 1)} | ${fmt(median(bridge10.map((s) => s.p99)), 1)} | ${fmt(median(bridge10.map((s) => s.cpuUs)))} | ${fmt(median(bridge10.map((s, i) => s.cpuUs / bare10[i].cpuUs)), 2)}x |`,
    `| ipmitool sensor reading, one process per call, one after another | ${fmt(toolRps, 1)} | ${fmt(1000 / toolRps, 1)} | - | - | - |`,
    '',
    `BMC requests per read answered (opendcre_ipmi_requests_total over reads; identical reads in flight share one): 1 connection ${fmt(median(perRead1), 2)}, 10 connections ${fmt(median(perRead10), 2)}`,
    '',
    `Bridge / ipmitool, same round: ${fmt(median(ratios), 1)}x (rounds: ${ratios.map((r) => `${fmt(r, 1)}x`).join(', ')}; target >= 10x)`,
    '',
    `GET /scan over ${bmcCount} ipmi_sim BMCs (plus the emulator's boards): first ${fmt(cold)} ms (log-ins and SDR reads), ` +
      `then median ${fmt(median(warmScans))} ms, max ${fmt(Math.max(...warmScans))} ms over ${warmScans.length} scans (target < 1000 ms)`,
    '',
    'Cipher suite 17 (RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128) against the BMC emulator in its own process:',
    '',
    '| sensor read, suite 17 | reads/s | p50 ms | p99 ms | server CPU µs/read |',
    '|---|---:|---:|---:|---:|',
    `| bridge, GET /read/temperature/40000001/0001, 1 connection | ${fmt(median(bridge17.map((s) => s.rps)))} | ${fmt(median(bridge17.map((s) => s.p50)), 1)} | ${fmt(median(bridge17.map((s) => s.p99)), 1)} | ${fmt(median(bridge17.map((s) => s.cpuUs)))} |`,
    `| ipmitool -C 17 sensor reading, one process per call | ${fmt(median(tool17), 1)} | ${fmt(1000 / median(tool17), 1)} | - | - |`,
    '',
    `Bridge / ipmitool over suite 17, same round: ${fmt(median(bridge17.map((s, i) => s.rps / tool17[i])), 1)}x`
  ].join('\n') + '\n')
} finally {
  for (const fn of cleanups.reverse()) await fn()
  rmSync(dir, { recursive: true, force: true })
}
