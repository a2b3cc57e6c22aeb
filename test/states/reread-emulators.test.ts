/**
 * Issue 22's 3 s target for threshold alerts, end to end: the sensors are
 * polled once a minute, so when a crossing injected into the BMC emulator or
 * the Redfish emulator shows up as a threshold alert and as /states'
 * critical within 3 s, only the out-of-turn read that its log entry (the
 * SEL entry, the Redfish event) asks for can explain it. The other sensors
 * are not read again.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadRedfishEmulatorConfig } from '../../emulators/redfish/emulator-config.js'
import { startRedfishEmulators } from '../../emulators/redfish/emulator-server.js'
import { DEFAULT_REDFISH_EMULATOR_CONFIG } from '../../config/paths.js'
import { build, get, PREFIX } from '../helper.js'
import { startBmc, steadyConfig } from '../bmc-emulator/emulator-kit.js'
import { openStream, waitFor, type SseEvent } from './stream-client.js'

/** Polled once a minute; the event log looked at (IPMI) every half second. */
const SLOW_POLL = { poll: { interval_s: 60, intervals: { ipmi: { default: 60 }, redfish: { default: 60 } }, events_s: 0.5, jitter: 0 } }

interface StateRow { device_id: string, device_info: string, state: string, timestamp: string | null }
type App = Awaited<ReturnType<typeof build>>

async function states (app: App, board: string): Promise<StateRow[]> {
  const res = await get(app, `/states/${board}`)
  return res.statusCode === 200 ? (res.json() as { sensors: StateRow[] }).sensors : []
}

/** Waits until every sensor of the board has been read and judged once (the first round of polls). */
async function firstRound (app: App, board: string, atLeast: number): Promise<StateRow[] | undefined> {
  return await waitFor(() => {
    const sensors = [...app.poller.allSensors()].filter((s) => s.operation === 'read' && s.board_id === board)
    return sensors.length >= atLeast && sensors.every((s) => s.condition !== undefined) ? [] : undefined
  }, 15_000).then(async (ok) => ok === undefined ? undefined : await states(app, board))
}

/** The crossing seen through the stream and /states: when each said so, ms after the injection. */
async function observe (t: Test, app: App, url: string, board: string, deviceId: string, inject: () => Promise<unknown>): Promise<SseEvent[]> {
  const stream = openStream(`${url}${PREFIX}/stream?board_id=${board}`, 15_000)
  t.teardown(() => stream.close())
  // the stream connected, the event watch's baseline taken
  await new Promise((resolve) => setTimeout(resolve, 1200))
  const injected = Date.now()
  await inject()
  const alert = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.kind === 'threshold' && e.data.device_id === deviceId), 6000)
  let statesAt: number | undefined
  for (const end = Date.now() + 6000; statesAt === undefined && Date.now() < end;) {
    if ((await states(app, board)).some((s) => s.device_id === deviceId && s.state === 'critical')) statesAt = Date.now()
    else await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.match(alert?.data, { board_id: board, device_id: deviceId, state: 'critical', previous: 'ok' }, 'a threshold alert')
  t.ok(alert !== undefined && alert.at - injected < 3000, `threshold alert within 3 s (${alert === undefined ? '-' : alert.at - injected} ms)`)
  t.ok(statesAt !== undefined && statesAt - injected < 3000, `/states says critical within 3 s (${statesAt === undefined ? '-' : statesAt - injected} ms)`)
  return stream.events
}

t.test('IPMI: a SEL threshold entry has its sensor read at once, despite a 60 s poll', async (t) => {
  const bmc = await startBmc(t, steadyConfig())
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-reread-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({ bmcs: [{ bmc_ip: '127.0.0.1', bmc_port: bmc.port, username: 'ADMIN', password: 'ADMIN' }] }))
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify(SLOW_POLL))
  const app = await build(t, { bmcConfig, config, poller: { random: () => 0 } })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })

  const before = await firstRound(app, '40000001', 9)
  t.ok(before !== undefined && before.length >= 9, 'the first round of polls')
  t.ok(before?.every((s) => s.state === 'ok'), 'every sensor ok')
  await observe(t, app, url, '40000001', '0001', async () => bmc.device.crossThreshold(1, 'ucr'))
  const after = await states(app, '40000001')
  const unchanged = (before ?? []).filter((s) => s.device_id !== '0001' && after.find((a) => a.device_id === s.device_id)?.timestamp === s.timestamp)
  t.equal(unchanged.length, (before ?? []).length - 1, 'the other sensors were not read again')
})

t.test('Redfish: an event naming a Sensor has it read at once, despite a 60 s poll', async (t) => {
  const base = loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG)
  const config = {
    ...base,
    sensor_style: 'sensors' as const,
    sensors: base.sensors.map((s) => ({ ...s, drift: 0, ...(s.name === 'CPU1 Temp' ? { thresholds: { UpperCaution: 80, UpperCritical: 90, UpperFatal: 100 } } : {}) }))
  }
  const [emu] = await startRedfishEmulators(config, { count: 1 })
  t.teardown(async () => await emu.close())
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-reread-redfish-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const redfishConfig = join(dir, 'redfish_config.json')
  writeFileSync(redfishConfig, JSON.stringify({ servers: [{ url: emu.url, username: 'ADMIN', password: 'ADMIN', timeout_ms: 2000 }] }))
  const opendcre = join(dir, 'opendcre_config.json')
  writeFileSync(opendcre, JSON.stringify(SLOW_POLL))
  const app = await build(t, { redfishConfig, config: opendcre, poller: { random: () => 0 } })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })

  const before = await firstRound(app, '70000001', 3)
  const cpu = before?.find((s) => s.device_info === 'CPU1 Temp')
  t.match(cpu, { state: 'ok' }, 'CPU1 Temp polled once, ok')
  const events = await observe(t, app, url, '70000001', cpu?.device_id ?? '-', async () => {
    const res = await fetch(`${emu.url}/emulator/faults`, { method: 'POST', body: JSON.stringify({ sensor_reading: { name: 'CPU1 Temp', reading: 93 } }) })
    t.equal(res.status, 204, 'the fault injected')
  })
  const log = events.find((e) => e.event === 'alert' && e.data.kind === 'log' && e.data.entry.severity === 'critical')
  t.equal(log?.data.entry.device_id, cpu?.device_id, 'the event\'s OriginOfCondition names the sensor as the entry\'s device_id')
  const after = await states(app, '70000001')
  const reread = (before ?? []).filter((s) => after.find((a) => a.device_id === s.device_id)?.timestamp !== s.timestamp)
  t.same(reread.map((s) => s.device_info), ['CPU1 Temp'], 'only the named sensor was read again')
})
