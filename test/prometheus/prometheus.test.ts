import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { packageRoot } from '../../config/paths.js'
import { buildOverPty, type PtyRig } from '../serial/pty.js'

/**
 * A real Prometheus (Debian's prometheus) scraping two instances, "rack A"
 * and "rack B", each polling its own emulated hardware (the standalone
 * emulator process on a socat PTY, the service on the other end); then its HTTP API
 * is asked what it holds. Also: the shipped alerting rules pass
 * `promtool check rules` and their unit tests (`promtool test rules`).
 */
const run = promisify(execFile)
const DEPLOY = join(packageRoot, 'deploy', 'prometheus')

t.test('the shipped alerting rules: promtool check rules, promtool test rules, the example config checks', async (t) => {
  const check = await run('promtool', ['check', 'rules', join(DEPLOY, 'opendcre-alerts.yml')])
  t.match(check.stdout, /SUCCESS: 7 rules found/)
  const unit = await run('promtool', ['test', 'rules', 'opendcre-alerts.test.yml'], { cwd: DEPLOY })
  t.match(unit.stdout, /SUCCESS/)
  const config = await run('promtool', ['check', 'config', join(DEPLOY, 'prometheus.yml')])
  t.match(config.stdout, /is valid prometheus config file/)
})

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

/** One board: temperatures, a fan, an LED and a power supply, each answering one constant value. */
function emulatorConfig (temps: number[], fan: number): unknown {
  const constant = (value: unknown): unknown => ({ repeatable: true, responses: [value] })
  return {
    boards: [{
      board_id: '00000001',
      firmware_version: 'rack emulator',
      devices: [
        ...temps.map((temp, i) => ({ device_id: (0x10 + i).toString(16).padStart(4, '0'), device_type: 'temperature', read: constant(temp) })),
        { device_id: '0020', device_type: 'fan_speed', read: constant(fan), write: constant('W1') },
        { device_id: '0030', device_type: 'led', read: constant(1), write: constant('W1') },
        { device_id: '0040', device_type: 'power', power: constant('0,0,0,0') }
      ]
    }]
  }
}

interface Rack { name: string, app: FastifyInstance, port: number, temps: number[], fan: number, emulator: string, rig: PtyRig }

async function startRack (t: Parameters<typeof buildOverPty>[0], dir: string, name: string, temps: number[], fan: number): Promise<Rack> {
  const emulator = join(dir, `rack-${name}.json`)
  writeFileSync(emulator, JSON.stringify(emulatorConfig(temps, fan)))
  const opendcre = join(dir, `opendcre-${name}.json`)
  // device-bus sensors have no thresholds of their own: the config gives the temperatures some
  writeFileSync(opendcre, JSON.stringify({ poll: { interval_s: 0.5, jitter: 0, thresholds: { temperature: { upper_non_critical: 40, upper_critical: 50 } } } }))
  const { app, rig } = await buildOverPty(t, emulator, { config: opendcre, poller: { random: () => 0 } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { name, app, port: (app.server.address() as { port: number }).port, temps, fan, emulator, rig }
}

async function query (base: string, promql: string): Promise<Array<{ metric: Record<string, string>, value: [number, string] }>> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`)
  const body = await res.json() as { status: string, data: { result: Array<{ metric: Record<string, string>, value: [number, string] }> } }
  return body.status === 'success' ? body.data.result : []
}

async function until<T> (what: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const value = await what()
    if (ok(value) || Date.now() > end) return value
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

t.test('a real Prometheus scrapes rack A and rack B: every sensor with its value and labels; a change shows after the next scrape', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-prometheus-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const racks = [await startRack(t, dir, 'A', [21.5, 35.25], 4100), await startRack(t, dir, 'B', [24.75, 40.5, 52], 5200)]

  const port = await freePort()
  const prometheusConfig = join(dir, 'prometheus.yml')
  writeFileSync(prometheusConfig, [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: opendcre',
    '    static_configs:',
    ...racks.flatMap((r) => [`      - targets: ['127.0.0.1:${r.port}']`, '        labels:', `          rack: ${r.name}`])
  ].join('\n') + '\n')
  const prometheus = spawn('prometheus', [
    `--config.file=${prometheusConfig}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  prometheus.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  t.teardown(async () => {
    if (prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus.once('exit', resolve))
      prometheus.kill('SIGTERM')
      await exited
    }
  })
  const base = `http://127.0.0.1:${port}`
  const ready = await until(async () => await fetch(`${base}/-/ready`).then((r) => r.status, () => 0), (s) => s === 200, 15_000)
  t.equal(ready, 200, `prometheus is ready ${stderr}`)

  const temps = await until(async () => await query(base, 'opendcre_temperature_celsius'), (r) => r.length === 5, 15_000)
  t.equal(temps.length, 5, 'every temperature sensor of both racks')
  for (const rack of racks) {
    rack.temps.forEach((temp, i) => {
      const deviceId = (0x10 + i).toString(16).padStart(4, '0')
      const found = temps.find((s) => s.metric.rack === rack.name && s.metric.device_id === deviceId)
      t.match(found?.metric, { board_id: '00000001', device_id: deviceId, device_type: 'temperature', backend: 'device_bus', instance: `127.0.0.1:${rack.port}` }, `rack ${rack.name} ${deviceId}: labels`)
      t.equal(Number(found?.value[1]), temp, `rack ${rack.name} ${deviceId}: ${temp} °C`)
    })
  }
  const fans = await query(base, 'opendcre_fan_speed_rpm')
  t.same(fans.map((s) => [s.metric.rack, s.metric.device_id, Number(s.value[1])]).sort(), [['A', '0020', 4100], ['B', '0020', 5200]])
  const leds = await query(base, 'opendcre_led_on')
  t.same(leds.map((s) => [s.metric.rack, Number(s.value[1])]).sort(), [['A', 1], ['B', 1]])
  const power = await query(base, 'opendcre_power_on')
  t.same(power.map((s) => [s.metric.rack, s.metric.device_id, Number(s.value[1])]).sort(), [['A', '0040', 1], ['B', '0040', 1]])
  const up = await query(base, 'opendcre_board_up')
  t.same(up.map((s) => [s.metric.rack, s.metric.board_id, Number(s.value[1])]).sort(), [['A', '00000001', 1], ['B', '00000001', 1]])
  const states = await query(base, 'opendcre_sensor_state')
  t.same(states.map((s) => [s.metric.rack, s.metric.device_id, Number(s.value[1])]).sort(),
    [['A', '0010', 0], ['A', '0011', 0], ['B', '0010', 0], ['B', '0011', 1], ['B', '0012', 2]], 'opendcre_sensor_state from the configured thresholds: 40.5 °C warning, 52 °C critical')
  const limits = await query(base, 'opendcre_sensor_threshold{threshold="upper_critical"}')
  t.equal(limits.length, 5, 'each temperature\'s upper critical threshold, as a gauge')
  t.ok(limits.every((s) => Number(s.value[1]) === 50 && s.metric.device_type === 'temperature'))
  const exposition = await (await fetch(`http://127.0.0.1:${racks[0].port}/metrics`)).text()
  const lint = await new Promise<{ code: number | null, out: string }>((resolve) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr.on('data', (c: Buffer) => { out += c.toString() })
    child.on('close', (code) => resolve({ code, out }))
    // prom-client's own nodejs_* gauges end in _total, which the linter flags: only this service's series are linted
    child.stdin.end(exposition.split('\n').filter((line) => /^(# (HELP|TYPE) )?opendcre_/.test(line)).join('\n') + '\n')
  })
  t.equal(lint.code, 0, `promtool check metrics accepts the opendcre_* series of /metrics ${lint.out}`)
  const ages = await query(base, 'max(opendcre_reading_age_seconds)')
  t.ok(Number(ages[0]?.value[1]) < 5, `readings are fresh (${ages[0]?.value[1]} s at most)`)

  // rack B's second sensor heats up: its emulator restarts with the new value (the service keeps its serial line)
  const rackB = racks[1]
  writeFileSync(rackB.emulator, JSON.stringify(emulatorConfig([24.75, 77.25, 52], 5200)))
  await rackB.rig.stopEmulator()
  await rackB.rig.startEmulator()
  const changed = await until(async () => await query(base, 'opendcre_temperature_celsius{rack="B",device_id="0011"}'),
    (r) => Number(r[0]?.value[1]) === 77.25, 8_000)
  t.equal(Number(changed[0]?.value[1]), 77.25, 'the new temperature is in Prometheus after the next poll and scrape')
  const critical = await until(async () => await query(base, 'opendcre_sensor_state{rack="B",device_id="0011"}'), (r) => Number(r[0]?.value[1]) === 2, 8_000)
  t.equal(Number(critical[0]?.value[1]), 2, 'and its state turns critical')
})
