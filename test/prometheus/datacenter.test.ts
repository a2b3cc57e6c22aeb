import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import t from 'tap'
import { packageRoot } from '../../config/paths.js'
import { bmcKey, ownerOf } from '../../config/shard.js'
import { steadyConfig } from '../bmc-emulator/emulator-kit.js'
import { CLI, operatorEnv } from '../cli-process.js'

/**
 * A data center on the engines it already runs (deploy/datacenter/): three
 * OpenDCRE shards (the built CLI, `serve --shard 0/3`, `1/3`, `2/3`) over one
 * bmc_config.json of 3,000 emulated BMCs (one `opendcre bmc-emulator`
 * process), scraped by Debian's prometheus with the shipped
 * deploy/datacenter/prometheus.yml (its hosts pointed at loopback), which
 * remote-writes to Debian's victoria-metrics. VictoriaMetrics' query API must
 * then hold every BMC's opendcre_board_up exactly once, from the shard that
 * owns it, and every temperature as the emulator serves it.
 */
const run = promisify(execFile)
const BMCS = 3000
const DEPLOY = join(packageRoot, 'deploy', 'datacenter')
/** The alerting rules of deploy/prometheus/, which the data center loads unchanged. */
const ALERT_RULES = (readFileSync(join(packageRoot, 'deploy', 'prometheus', 'opendcre-alerts.yml'), 'utf8').match(/^\s*- alert:/gm) ?? []).length
const ALERTS = join(packageRoot, 'deploy', 'prometheus', 'opendcre-alerts.yml')

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })
}

async function until<T> (what: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, everyMs = 1000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const value = await what().catch(() => undefined)
    if ((value !== undefined && ok(value)) || Date.now() > end) return value as T
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

type Series = Array<{ metric: Record<string, string>, value: [number, string] }>

async function query (base: string, promql: string): Promise<Series> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(20_000) })
  const body = await res.json() as { status: string, data: { result: Series } }
  if (body.status !== 'success') throw new Error(`${promql}: ${JSON.stringify(body)}`)
  return body.data.result
}

t.test('the example data center config checks with promtool', async (t) => {
  const config = await run('promtool', ['check', 'config', join(DEPLOY, 'prometheus.yml')])
  t.match(config.stdout, /is valid prometheus config file/)
  t.match(config.stdout, new RegExp(`SUCCESS: ${ALERT_RULES} rules found`), 'the alerting rules, unchanged, from deploy/prometheus/')
})

t.test('three shards over 3,000 BMCs, Prometheus remote-writing to VictoriaMetrics: every board once, from its owner, temperatures as emulated', { timeout: 720_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-datacenter-'))
  const began = Date.now()
  const elapsed = (): string => `${Math.round((Date.now() - began) / 1000)} s in`
  const children: ChildProcess[] = []
  t.teardown(async () => {
    await Promise.all(children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(killer)
    }))
    rmSync(dir, { recursive: true, force: true })
  })
  const stderr = new Map<string, string>()
  const start = (command: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess => {
    const child = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
    // the last few KB of what it says, for a failure's message
    child.stderr?.on('data', (chunk: Buffer) => { stderr.set(command, ((stderr.get(command) ?? '') + chunk.toString()).slice(-4000)) })
    child.once('exit', (code, signal) => { stderr.set(command, `${stderr.get(command) ?? ''}\n(exited: ${String(code ?? signal)})`) })
    children.push(child)
    return child
  }

  // 3,000 BMCs with readings that stay put, each on an ephemeral UDP port
  const emulated = steadyConfig()
  const emulatorConfig = join(dir, 'bmc-emulator.json')
  writeFileSync(emulatorConfig, JSON.stringify(emulated))
  const emulator = start(process.execPath, [CLI, 'bmc-emulator', '--host', '127.0.0.1', '--port', '0', '--count', String(BMCS), '--log-level', 'warn', emulatorConfig], operatorEnv())
  const ports = await new Promise<number[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the BMC emulator did not listen within 60 s')), 60_000)
    emulator.once('exit', (code) => reject(new Error(`the BMC emulator exited (${String(code)})`)))
    createInterface({ input: emulator.stdout! }).on('line', (line) => {
      const o = JSON.parse(line) as { event?: string, ports?: number[] }
      if (o.event === 'listening' && o.ports !== undefined) {
        clearTimeout(timer)
        resolve(o.ports)
      }
    })
  })
  t.equal(ports.length, BMCS)
  writeFileSync(join(dir, 'bmc_config.json'), JSON.stringify({
    bmcs: ports.map((port) => ({ bmc_ip: '127.0.0.1', bmc_port: port, username: 'ADMIN', password: 'ADMIN', cipher_suite: 3 }))
  }))

  // three shards of one inventory: the same files, --shard i/3
  const servicePorts = [await freePort(), await freePort(), await freePort()]
  const urls = servicePorts.map((port) => `http://127.0.0.1:${port}`)
  const vmPort = await freePort()
  const vm = `http://127.0.0.1:${vmPort}`
  writeFileSync(join(dir, 'opendcre_config.json'), JSON.stringify({
    bmc_config: 'bmc_config.json',
    shard_urls: urls,
    fleet_query_url: vm,
    // 3,000 BMCs every 60 s, their temperatures, power status (0100) and LED (fans, voltages, currents and
    // power sensors in watts left out): ~350 reads a second over the three shards, so that two shared, loaded cores keep up
    poll: { intervals: { ipmi: { default: 60 } }, operations: { ipmi: { fan_speed: 'none', voltage: 'none', current: 'none', power: 'none' } } }
  }))
  for (const [index, port] of servicePorts.entries()) {
    start(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', String(port), '--config', join(dir, 'opendcre_config.json'),
      '--shard', `${index}/3`, '--log-dir', join(dir, `logs-${index}`), '--log-level', 'warn'], operatorEnv())
  }
  for (const url of urls) {
    const status = await until(async () => (await fetch(`${url}/opendcre/1.2/test`)).status, (s) => s === 200, 60_000, 250)
    t.equal(status, 200, `${url} answers (${elapsed()})`)
  }

  // VictoriaMetrics, and Prometheus with the shipped data-center config pointed at them
  start('victoria-metrics', [`-storageDataPath=${join(dir, 'vm')}`, `-httpListenAddr=127.0.0.1:${vmPort}`, '-retentionPeriod=1d',
    '-search.latencyOffset=1s', '-search.disableCache', '-loggerLevel=ERROR'])
  const vmUp = await until(async () => (await fetch(`${vm}/health`)).status, (s) => s === 200, 30_000, 250)
  t.equal(vmUp, 200, `victoria-metrics is up ${stderr.get('victoria-metrics') ?? ''}`)
  const promPort = await freePort()
  const shipped = readFileSync(join(DEPLOY, 'prometheus.yml'), 'utf8')
  let config = shipped.replace('../prometheus/opendcre-alerts.yml', ALERTS).replace('http://victoria-metrics:8428', vm).replace(/scrape_interval: 15s/, 'scrape_interval: 10s')
  servicePorts.forEach((port, i) => { config = config.replace(`opendcre-${i}.opendcre:5000`, `127.0.0.1:${port}`) })
  t.not(config, shipped)
  writeFileSync(join(dir, 'prometheus.yml'), config)
  start('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prometheus')}`,
    `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'])
  const prometheus = `http://127.0.0.1:${promPort}`
  const ready = await until(async () => (await fetch(`${prometheus}/-/ready`)).status, (s) => s === 200, 60_000, 250)
  if (ready !== 200) t.fail(`prometheus is not ready: ${stderr.get('prometheus') ?? ''}`)
  if (ready !== 200) return

  // every BMC's board_up, once, in VictoriaMetrics
  const count = await until(async () => await query(vm, 'count(opendcre_board_up{backend="ipmi"})'), (r) => Number(r[0]?.value[1]) === BMCS, 300_000, 3000)
  t.equal(Number(count[0]?.value[1]), BMCS, `VictoriaMetrics holds opendcre_board_up for every BMC (${elapsed()})`)
  if (Number(count[0]?.value[1]) !== BMCS) {
    const targets = await fetch(`${prometheus}/api/v1/targets`).then(async (r) => await r.text(), (err: Error) => err.message)
    const inPrometheus = await query(prometheus, 'count by (instance) (opendcre_board_up)').catch((err: Error) => err.message)
    t.fail(`boards up in Prometheus: ${JSON.stringify(inPrometheus)}; targets: ${targets.slice(0, 2000)}; prometheus: ${stderr.get('prometheus') ?? ''}`)
    return
  }
  const up = await query(vm, 'opendcre_board_up{backend="ipmi"}')
  const seen = new Map<string, number>()
  let misplaced = 0
  for (const series of up) {
    seen.set(series.metric.board_id, (seen.get(series.metric.board_id) ?? 0) + 1)
    const slot = Number.parseInt(series.metric.board_id, 16) - 0x40000001
    if (series.metric.instance !== `127.0.0.1:${servicePorts[ownerOf(bmcKey('127.0.0.1', ports[slot]), 3)]}`) misplaced++
  }
  t.equal(up.length, BMCS, 'one opendcre_board_up series per BMC')
  t.equal(seen.size, BMCS, 'every BMC\'s board id, 40000001 to 40000bb8')
  t.same([...seen.values()].filter((n) => n !== 1), [], 'none twice')
  t.equal(misplaced, 0, 'each from the shard that owns its BMC')
  const down = up.filter((series) => series.value[1] !== '1').map((series) => series.metric.board_id)
  t.ok(down.length <= BMCS * 0.01, `every BMC up but for a few whose poll timed out on a loaded machine: ${down.length} down`)
  const perShard = await query(vm, 'count by (instance) (opendcre_board_up{backend="ipmi"})')
  t.equal(perShard.length, 3, 'all three shards report')
  for (const s of perShard) t.ok(Number(s.value[1]) > BMCS / 3 * 0.85, `${s.metric.instance} owns ${s.value[1]} BMCs (about a third)`)

  // every temperature as the emulator serves it
  const temperatures = emulated.sensors.filter((s) => s.kind === 'temperature')
  const expected = BMCS * temperatures.length
  const temps = await until(async () => await query(vm, 'opendcre_temperature_celsius{backend="ipmi"}'), (r) => r.length === expected, 180_000, 3000)
  const bySensor = new Map<string, number>()
  for (const series of temps) bySensor.set(series.metric.device_id, (bySensor.get(series.metric.device_id) ?? 0) + 1)
  t.equal(temps.length, expected, `${temperatures.length} temperatures per BMC: ${JSON.stringify(Object.fromEntries(bySensor))} (${elapsed()})`)
  const wrong: string[] = []
  for (const series of temps) {
    const sensor = temperatures.find((s) => s.number === Number.parseInt(series.metric.device_id, 16))
    if (sensor === undefined || Math.abs(Number(series.value[1]) - sensor.value) > 0.5) wrong.push(`${series.metric.board_id}/${series.metric.device_id}: ${series.value[1]}`)
  }
  t.same(wrong.slice(0, 5), [], 'every temperature matches the emulator\'s')

  // any shard's /fleet lists the whole data center from VictoriaMetrics, each board linked to its owner
  type Fleet = { source: string, message?: string, boards: Array<{ board_id: string, url: string, up: boolean, temperature_c: number | null, last_seen: string | null }> }
  const fleet = await until(async () => await (await fetch(`${urls[1]}/opendcre/1.2/fleet`, { signal: AbortSignal.timeout(30_000) })).json() as Fleet,
    (f) => Array.isArray(f.boards), 30_000, 2000)
  t.equal(fleet?.source, 'datacenter', fleet?.message ?? 'the data center from VictoriaMetrics')
  if (!Array.isArray(fleet?.boards)) return
  const ipmiBoards = fleet.boards.filter((b) => b.board_id.startsWith('40'))
  t.equal(ipmiBoards.length, BMCS, 'every BMC of the data center, from one shard')
  const hottest = Math.max(...temperatures.map((s) => s.value))
  const badRows = ipmiBoards.filter((b) => {
    const slot = Number.parseInt(b.board_id, 16) - 0x40000001
    return b.url !== urls[ownerOf(bmcKey('127.0.0.1', ports[slot]), 3)] || b.temperature_c === null || Math.abs(b.temperature_c - hottest) > 0.5 || b.last_seen === null
  })
  t.same(badRows.slice(0, 3), [], 'each with its hottest temperature the emulator\'s, last seen, linked to the shard that owns it')

  // the alerting rules, unchanged, are loaded beside the scrape
  const rules = await (await fetch(`${prometheus}/api/v1/rules`)).json() as { data: { groups: Array<{ rules: unknown[] }> } }
  t.equal(rules.data.groups.flatMap((g) => g.rules).length, ALERT_RULES, `the ${ALERT_RULES} OpenDCRE alerting rules`)
})
