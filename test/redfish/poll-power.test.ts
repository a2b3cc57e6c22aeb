import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { loadRedfishEmulatorConfig } from '../../emulators/redfish/emulator-config.js'
import { startRedfishEmulators } from '../../emulators/redfish/emulator-server.js'
import { DEFAULT_REDFISH_EMULATOR_CONFIG } from '../../config/paths.js'
import { resolvePollConfig, pollOperation } from '../../monitoring/poll-config.js'
import { startBmc, steadyConfig } from '../bmc-emulator/emulator-kit.js'
import { build, get } from '../helper.js'

/**
 * A device of type `power` is two things on the IPMI bridge and Redfish: the
 * board's power control (0100, polled with the power command's status) and
 * sensors in watts (read). The poller polls each as what it is, so /metrics
 * has opendcre_power_on for the control and opendcre_power_watts for the
 * sensors, never the other way round; API reads answer the same values.
 */

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-poll-power-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The samples of a family for one device: [value, ...]. */
function samples (metrics: string, family: string, board: string, device: string): number[] {
  return metrics.split('\n')
    .filter((l) => l.startsWith(`${family}{`) && l.includes(`board_id="${board}"`) && l.includes(`device_id="${device}"`))
    .map((l) => Number(l.split(' ').pop()))
}

/** /metrics once `ready` holds for it (the poller has polled both devices), within 15 s. */
async function metricsWhen (app: FastifyInstance, ready: (metrics: string) => boolean): Promise<string> {
  const end = Date.now() + 15_000
  let metrics = ''
  while (Date.now() < end) {
    metrics = (await app.inject({ url: '/metrics' })).body
    if (ready(metrics)) return metrics
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return metrics
}

t.test('poll operations: on IPMI and Redfish a power device is read, except the board\'s power control 0100', async (t) => {
  const config = resolvePollConfig(undefined)
  for (const backend of ['ipmi', 'redfish']) {
    t.equal(pollOperation(config, backend, 'power', 0x0100), 'power', `${backend} 0100: power status`)
    t.equal(pollOperation(config, backend, 'power', 0x5001), 'read', `${backend} power sensor: read`)
    t.equal(pollOperation(config, backend, 'power', 0x0031), 'read')
  }
  t.equal(pollOperation(config, 'device_bus', 'power', 0x0003), 'power', 'the device bus\'s power devices are PMBus power control: power status')
  const custom = resolvePollConfig({ operations: { redfish: { 'power/5001': 'none' } } })
  t.equal(pollOperation(custom, 'redfish', 'power', 0x5001), 'none', 'one device by type/device_id')
  t.equal(pollOperation(custom, 'redfish', 'power', 0x5002), 'read')
  const noSensors = resolvePollConfig({ operations: { ipmi: { power: 'none' } } })
  t.equal(pollOperation(noSensors, 'ipmi', 'power', 0x0031), 'none', 'power sensors left out by type')
  t.equal(pollOperation(noSensors, 'ipmi', 'power', 0x0100), 'power', 'the power control still polled')
})

t.test('Redfish: the power sensor is opendcre_power_watts, the system\'s power opendcre_power_on', async (t) => {
  const base = loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG)
  const [emu] = await startRedfishEmulators({ ...base, sensor_style: 'sensors' as const }, { count: 1 })
  t.teardown(async () => await emu.close())
  const pinned = await fetch(`${emu.url}/emulator/faults`, { method: 'POST', body: JSON.stringify({ sensor_reading: { name: 'Total Power', reading: 321.5 } }) })
  t.equal(pinned.status, 204)
  const dir = tempDir(t)
  const redfishConfig = join(dir, 'redfish_config.json')
  writeFileSync(redfishConfig, JSON.stringify({ servers: [{ url: emu.url, username: 'ADMIN', password: 'ADMIN', timeout_ms: 2000 }] }))
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify({ poll: { intervals: { redfish: { default: 0.5 } }, jitter: 0 } }))
  const app = await build(t, { redfishConfig, config, poller: { random: () => 0 } })
  await app.ready()
  const scan = (await get(app, '/scan/70000001')).json() as { boards: Array<{ devices: Array<{ device_id: string, device_type: string, device_info?: string }> }> }
  t.same(scan.boards[0].devices.filter((d) => d.device_type === 'power').map((d) => d.device_id), ['0100', '5001'], 'two devices of type power')

  const metrics = await metricsWhen(app, (m) => samples(m, 'opendcre_power_watts', '70000001', '5001').length > 0 && samples(m, 'opendcre_power_on', '70000001', '0100').length > 0)
  t.same(samples(metrics, 'opendcre_power_watts', '70000001', '5001'), [321.5], 'the sensor polled as watts')
  t.same(samples(metrics, 'opendcre_power_on', '70000001', '0100'), [1], 'the system\'s power polled as its state')
  t.same(samples(metrics, 'opendcre_power_on', '70000001', '5001'), [], 'the sensor is no power status')
  t.same(samples(metrics, 'opendcre_power_watts', '70000001', '0100'), [], 'the power control is no watts sensor')
  t.same((await get(app, '/read/power/70000001/5001')).json(), { power_w: 321.5 }, 'a read of the sensor: watts')
  t.equal((await get(app, '/power/70000001/0100')).json().power_status, 'on', 'power status: on')

  t.equal((await get(app, '/power/70000001/0100/off')).json().power_status, 'off')
  const after = await metricsWhen(app, (m) => samples(m, 'opendcre_power_on', '70000001', '0100')[0] === 0)
  t.same(samples(after, 'opendcre_power_on', '70000001', '0100'), [0], 'power off shows on /metrics')
  t.same(samples(after, 'opendcre_power_on', '70000001', '5001'), [], 'still no power status for the sensor')
  t.equal(samples(after, 'opendcre_power_watts', '70000001', '5001').length, 1, 'and still its watts')
})

t.test('IPMI (the BMC emulator): PSU1 Input Power is opendcre_power_watts, the chassis power opendcre_power_on', async (t) => {
  const bmc = await startBmc(t, steadyConfig())
  const dir = tempDir(t)
  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({ bmcs: [{ bmc_ip: '127.0.0.1', bmc_port: bmc.port, username: 'ADMIN', password: 'ADMIN' }] }))
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify({ poll: { intervals: { ipmi: { default: 0.5 } }, jitter: 0 } }))
  const app = await build(t, { bmcConfig, config, poller: { random: () => 0 } })
  await app.ready()
  const scan = (await get(app, '/scan/40000001')).json() as { boards: Array<{ devices: Array<{ device_id: string, device_type: string, device_info?: string }> }> }
  const sensor = scan.boards[0].devices.find((d) => d.device_type === 'power' && d.device_info === 'PSU1 Input Power')
  t.ok(sensor !== undefined, 'the BMC\'s power sensor is a device of type power')
  const id = sensor?.device_id ?? ''
  t.not(id, '0100')
  const metrics = await metricsWhen(app, (m) => samples(m, 'opendcre_power_watts', '40000001', id).length > 0 && samples(m, 'opendcre_power_on', '40000001', '0100').length > 0)
  const watts = (await get(app, `/read/power/40000001/${id}`)).json().power_w as number
  t.equal(typeof watts, 'number', `a read of the sensor: ${watts} W`)
  t.same(samples(metrics, 'opendcre_power_watts', '40000001', id), [watts], 'polled as watts, the value a read gives')
  t.same(samples(metrics, 'opendcre_power_on', '40000001', id), [], 'the sensor is no power status')
  t.same(samples(metrics, 'opendcre_power_on', '40000001', '0100'), [1], 'the chassis power polled as its state')
  t.equal((await get(app, '/power/40000001/0100')).json().power_status, 'on')
})
