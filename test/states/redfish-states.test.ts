/**
 * Redfish sensor states against the project's Redfish emulator: a Sensor's
 * Thresholds become the sensor's thresholds; a reading pushed past one by the
 * emulator's fault injection (POST /emulator/faults {sensor_reading}) reaches
 * the stream as a threshold alert and, through the LogService, as a log alert.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadRedfishEmulatorConfig } from '../../emulators/redfish/emulator-config.js'
import { startRedfishEmulators } from '../../emulators/redfish/emulator-server.js'
import { DEFAULT_REDFISH_EMULATOR_CONFIG } from '../../config/paths.js'
import { build, get, PREFIX } from '../helper.js'
import { openStream, waitFor } from './stream-client.js'

t.test('Redfish: Thresholds read; a crossing injected into the emulator reaches the stream', async (t) => {
  const base = loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG)
  const config = {
    ...base,
    sensor_style: 'sensors' as const,
    sensors: base.sensors.map((s) => (s.name === 'CPU1 Temp' ? { ...s, drift: 0, thresholds: { UpperCaution: 80, UpperCritical: 90, UpperFatal: 100, LowerCaution: 5 } } : s))
  }
  const [emu] = await startRedfishEmulators(config, { count: 1 })
  t.teardown(async () => await emu.close())
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-redfish-states-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const redfishConfig = join(dir, 'redfish_config.json')
  writeFileSync(redfishConfig, JSON.stringify({ servers: [{ url: emu.url, username: 'ADMIN', password: 'ADMIN', timeout_ms: 2000 }] }))
  const opendcre = join(dir, 'opendcre_config.json')
  writeFileSync(opendcre, JSON.stringify({ poll: { intervals: { redfish: { default: 0.5 } }, events_s: 0.5, jitter: 0 } }))
  const app = await build(t, { redfishConfig, config: opendcre, poller: { random: () => 0 } })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })

  type States = { sensors: Array<{ device_id: string, device_info: string, state: string, thresholds: Record<string, number>, timestamp: string | null }> }
  let cpu: States['sensors'][number] | undefined
  const end = Date.now() + 15_000
  while (Date.now() < end && cpu?.timestamp == null) {
    const res = await get(app, '/states/70000001')
    if (res.statusCode === 200) cpu = (res.json() as States).sensors.find((s) => s.device_info === 'CPU1 Temp')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  t.match(cpu, { state: 'ok', thresholds: { upper_non_critical: 80, upper_critical: 90, upper_non_recoverable: 100, lower_non_critical: 5 } }, 'the Sensor\'s Thresholds')
  const other = ((await get(app, '/states/70000001')).json() as States).sensors.find((s) => s.device_info === 'Inlet Temp')
  t.match(other, { state: 'ok', thresholds: {} }, 'no Thresholds: Status.Health says ok')

  const stream = openStream(`${url}${PREFIX}/stream?board_id=70000001`)
  t.teardown(() => stream.close())
  await new Promise((resolve) => setTimeout(resolve, 700))
  const injected = Date.now()
  const res = await fetch(`${emu.url}/emulator/faults`, { method: 'POST', body: JSON.stringify({ sensor_reading: { name: 'CPU1 Temp', reading: 93 } }) })
  t.equal(res.status, 204)
  const threshold = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.kind === 'threshold' && e.data.device_id === cpu?.device_id), 5000)
  const log = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.kind === 'log'), 5000)
  t.match(threshold?.data, { board_id: '70000001', backend: 'redfish', device_info: 'CPU1 Temp', state: 'critical', previous: 'ok', value: 93 })
  t.match(log?.data, { board_id: '70000001', backend: 'redfish', entry: { severity: 'critical' } })
  t.ok(threshold !== undefined && threshold.at - injected < 3000, `threshold alert within 3 s (${threshold === undefined ? '-' : threshold.at - injected} ms)`)
  t.ok(log !== undefined && log.at - injected < 3000, `log entry within 3 s (${log === undefined ? '-' : log.at - injected} ms)`)
  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, new RegExp(`opendcre_sensor_state\\{board_id="70000001",device_id="${cpu?.device_id ?? ''}",[^}]*\\} 2\\n`), 'opendcre_sensor_state 2')
})

t.test('Redfish legacy Thermal/Power: members\' UpperThresholdNonCritical ... become thresholds; a crossing reaches the stream', async (t) => {
  const base = loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG)
  const limits: Record<string, Record<string, number>> = {
    'CPU1 Temp': { UpperCaution: 80, UpperCritical: 90, UpperFatal: 100 },
    'System Fan 1': { LowerCaution: 1000, LowerCritical: 500 },
    P12V: { LowerCritical: 10.8, UpperCritical: 13.2 }
  }
  const config = { ...base, sensor_style: 'legacy' as const, sensors: base.sensors.map((s) => (limits[s.name] !== undefined ? { ...s, drift: 0, thresholds: limits[s.name] } : s)) }
  const [emu] = await startRedfishEmulators(config, { count: 1 })
  t.teardown(async () => await emu.close())
  const auth = { authorization: `Basic ${Buffer.from('ADMIN:ADMIN').toString('base64')}` }
  const thermal = await (await fetch(`${emu.url}/redfish/v1/Chassis/1/Thermal`, { headers: auth })).json() as Record<string, any>
  t.match(thermal.Temperatures.find((m: any) => m.Name === 'CPU1 Temp'), { UpperThresholdNonCritical: 80, UpperThresholdCritical: 90, UpperThresholdFatal: 100, Status: { Health: 'OK' } }, 'Thermal carries the thresholds')
  t.match(thermal.Fans.find((m: any) => m.Name === 'System Fan 1'), { LowerThresholdNonCritical: 1000, LowerThresholdCritical: 500 })
  const power = await (await fetch(`${emu.url}/redfish/v1/Chassis/1/Power`, { headers: auth })).json() as Record<string, any>
  t.match(power.Voltages.find((m: any) => m.Name === 'P12V'), { LowerThresholdCritical: 10.8, UpperThresholdCritical: 13.2 }, 'Power carries the thresholds')

  const dir = mkdtempSync(join(tmpdir(), 'opendcre-redfish-legacy-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const redfishConfig = join(dir, 'redfish_config.json')
  writeFileSync(redfishConfig, JSON.stringify({ servers: [{ url: emu.url, username: 'ADMIN', password: 'ADMIN', timeout_ms: 2000 }] }))
  const opendcre = join(dir, 'opendcre_config.json')
  writeFileSync(opendcre, JSON.stringify({ poll: { intervals: { redfish: { default: 0.5 } }, events_s: 0.5, jitter: 0 } }))
  const app = await build(t, { redfishConfig, config: opendcre, poller: { random: () => 0 } })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  type Sensor = { device_id: string, device_info: string, state: string, thresholds: Record<string, number>, timestamp: string | null }
  const states = async (): Promise<Sensor[]> => {
    const res = await get(app, '/states/70000001')
    return res.statusCode === 200 ? (res.json() as { sensors: Sensor[] }).sensors : []
  }
  let sensors: Sensor[] = []
  const end = Date.now() + 15_000
  while (Date.now() < end && sensors.filter((s) => limits[s.device_info] !== undefined && s.timestamp !== null).length < 3) {
    sensors = await states()
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const by = (name: string): Sensor | undefined => sensors.find((s) => s.device_info === name)
  t.match(by('CPU1 Temp'), { state: 'ok', thresholds: { upper_non_critical: 80, upper_critical: 90, upper_non_recoverable: 100 } })
  t.match(by('System Fan 1'), { state: 'ok', thresholds: { lower_non_critical: 1000, lower_critical: 500 } })
  t.match(by('P12V'), { state: 'ok', thresholds: { lower_critical: 10.8, upper_critical: 13.2 } })

  const stream = openStream(`${url}${PREFIX}/stream?board_id=70000001`)
  t.teardown(() => stream.close())
  await new Promise((resolve) => setTimeout(resolve, 700))
  const injected = Date.now()
  t.equal((await fetch(`${emu.url}/emulator/faults`, { method: 'POST', body: JSON.stringify({ sensor_reading: { name: 'System Fan 1', reading: 400 } }) })).status, 204)
  const alert = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.kind === 'threshold' && e.data.device_info === 'System Fan 1'), 5000)
  t.match(alert?.data, { state: 'critical', previous: 'ok', value: 400, thresholds: { lower_critical: 500 } }, 'the fan below its critical threshold')
  t.ok(alert !== undefined && alert.at - injected < 3000, `within 3 s (${alert === undefined ? '-' : alert.at - injected} ms)`)
})
