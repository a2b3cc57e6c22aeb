/**
 * Sensor states end to end against the BMC emulator: the SDR thresholds the
 * bridge reads agree with ipmitool's; a threshold crossing injected into the
 * emulator reaches the stream (a threshold alert and the SEL entry), /states
 * and /metrics within seconds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { build, get, PREFIX } from '../helper.js'
import { cells, ipmitool, startBmc, steadyConfig } from '../bmc-emulator/emulator-kit.js'
import { openStream, waitFor } from './stream-client.js'

const IPMITOOL_COLUMNS = ['lower_non_recoverable', 'lower_critical', 'lower_non_critical', 'upper_non_critical', 'upper_critical', 'upper_non_recoverable'] as const

t.test('IPMI sensor states: thresholds as ipmitool reads them; a crossing pushed to the stream, /states and /metrics', async (t) => {
  // Inlet Temp as a compact record (§43.2): no threshold bytes, Get Sensor Thresholds (§35.9) has them
  const bmc = await startBmc(t, steadyConfig((c) => { c.sensors = c.sensors.map((s) => (s.name === 'Inlet Temp' ? { ...s, record: 'compact' as const } : s)) }))
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-states-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({ bmcs: [{ bmc_ip: '127.0.0.1', bmc_port: bmc.port, username: 'ADMIN', password: 'ADMIN' }] }))
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify({ poll: { interval_s: 0.5, intervals: { ipmi: { default: 0.5 } }, events_s: 0.5, jitter: 0 } }))
  const app = await build(t, { bmcConfig, config, poller: { random: () => 0 } })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })

  const ready = await waitFor(() => {
    const sensors = [...app.poller.allSensors()].filter((s) => s.operation === 'read' && s.board_id === '40000001')
    return sensors.length >= 9 && sensors.every((s) => s.condition !== undefined) ? sensors : undefined
  }, 8000)
  t.ok(ready, 'the poller judged every sensor')

  const statesRes = await get(app, '/states/40000001')
  t.equal(statesRes.statusCode, 200, statesRes.body)
  const states = statesRes.json() as { board: any, sensors: any[] }
  t.equal(states.board.state, 'ok', 'every sensor of the steady emulator is ok')
  const list = (await ipmitool(bmc.port, 17, ['sensor', 'list'])).stdout.trim().split('\n').map(cells)
  let compared = 0
  for (const sensor of states.sensors) {
    const row = list.find((c) => c[0] === sensor.device_info)
    if (row === undefined || sensor.timestamp === null) continue
    const theirs: Record<string, number> = {}
    if (sensor.device_info === 'Inlet Temp') {
      // ipmitool 1.8.19 prints no thresholds for a compact record (it converts only with a full record's factors): its raw Get Sensor Thresholds judges
      t.match(row, ['Inlet Temp', /^0x/, '', 'ok', 'na', 'na', 'na', 'na', 'na', 'na'], 'ipmitool shows the compact record raw')
      const bytes = (await ipmitool(bmc.port, 17, ['raw', '0x04', '0x27', '0x04'])).stdout.trim().split(/\s+/).map((b) => parseInt(b, 16))
      ;['lower_non_critical', 'lower_critical', 'lower_non_recoverable', 'upper_non_critical', 'upper_critical', 'upper_non_recoverable'].forEach((name, bit) => { if ((bytes[0] & (1 << bit)) !== 0) theirs[name] = bytes[1 + bit] })
      t.same(theirs, { lower_critical: 0, lower_non_critical: 5, upper_non_critical: 40, upper_critical: 45, upper_non_recoverable: 50 }, 'the emulator answers Get Sensor Thresholds for it')
    } else IPMITOOL_COLUMNS.forEach((name, i) => { if (row[4 + i] !== 'na') theirs[name] = Number(row[4 + i]) })
    t.same(Object.keys(sensor.thresholds).sort(), Object.keys(theirs).sort(), `${sensor.device_info}: the same thresholds as ipmitool sensor`)
    for (const [name, value] of Object.entries(theirs)) t.ok(Math.abs(sensor.thresholds[name] - value) < 0.0005, `${sensor.device_info} ${name}: ${sensor.thresholds[name]} = ${value}`)
    t.equal(sensor.state, row[3] === 'ok' ? 'ok' : 'not ok', `${sensor.device_info}: ok, as ipmitool says`)
    compared++
  }
  t.ok(compared >= 8, `compared ${compared} sensors with ipmitool`)

  const stream = openStream(`${url}${PREFIX}/stream?board_id=40000001`, 15_000)
  t.teardown(() => stream.close())
  await new Promise((resolve) => setTimeout(resolve, 600))
  const injectedAt = Date.now()
  const value = bmc.device.crossThreshold(1, 'ucr')
  const threshold = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.kind === 'threshold' && e.data.device_id === '0001'), 5000)
  const log = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.kind === 'log' && /Upper Critical going high/.test(e.data.entry.event)), 5000)
  t.match(threshold?.data, { board_id: '40000001', device_id: '0001', device_info: 'CPU1 Temp', backend: 'ipmi', state: 'critical', previous: 'ok', value, thresholds: { upper_critical: 95 } })
  t.match(log?.data, { board_id: '40000001', backend: 'ipmi', entry: { sensor: 'CPU1 Temp', device_id: '0001', direction: 'asserted', severity: 'critical', reading: value } })
  t.ok(threshold !== undefined && threshold.at - injectedAt < 3000, `threshold alert within 3 s (${threshold === undefined ? '-' : threshold.at - injectedAt} ms)`)
  t.ok(log !== undefined && log.at - injectedAt < 3000, `SEL entry within 3 s (${log === undefined ? '-' : log.at - injectedAt} ms)`)

  const fleet = (await get(app, '/states?state=warning')).json() as { boards: any[], totals: any }
  t.match(fleet.boards[0], { board_id: '40000001', backend: 'ipmi', up: true, state: 'critical', hottest_c: value, hottest_device: '0001', power_status: 'on' })
  t.ok(fleet.boards[0].power_w > 0 && fleet.boards[0].trend.length >= 2, 'power draw and a trend')
  t.equal(fleet.totals.critical, 1)

  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, /opendcre_sensor_state\{board_id="40000001",device_id="0001",[^}]*\} 2\n/, 'opendcre_sensor_state 2 (critical)')
  t.match(metrics, /opendcre_sensor_state\{board_id="40000001",device_id="0002",[^}]*\} 0\n/, 'the others ok')
  t.match(metrics, /opendcre_sensor_threshold\{board_id="40000001",device_id="0001",[^}]*threshold="upper_critical"\} 95\n/)

  bmc.device.setReading(1, 46)
  const back = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.kind === 'threshold' && e.data.device_id === '0001' && e.data.state === 'ok'), 5000)
  t.match(back?.data, { previous: 'critical', state: 'ok' }, 'back to ok is an alert too')
})
