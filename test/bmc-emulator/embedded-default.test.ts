/**
 * The default setup shows IPMI: `opendcre serve` with no backend named runs
 * two emulated BMCs on loopback (suite 17 only, suite 3 only) behind the IPMI
 * bridge as boards 40000001 and 40000002; naming a backend gives exactly that.
 */
import type { ChildProcess } from 'node:child_process'
import t from 'tap'
import { CLI, startListening } from '../cli-process.js'
import { build, get } from '../helper.js'
import { steadyConfig } from './emulator-kit.js'

interface Board { board_id: string, devices: Array<{ device_id: string, device_type: string, device_info?: string }> }

const config = steadyConfig()
const temperatures = config.sensors.filter((s) => s.kind === 'temperature')
const fans = config.sensors.filter((s) => s.kind === 'fan')
const hex4 = (n: number): string => n.toString(16).padStart(4, '0')

t.test('in process: boards 40000001 (suite 17) and 40000002 (suite 3) with their sensors', async (t) => {
  const app = await build(t, { embeddedBmcs: true })
  const res = await get(app, '/scan')
  t.equal(res.statusCode, 200)
  const boards = (res.json() as { boards: Board[] }).boards
  t.ok(boards.some((b) => b.board_id === '00000001'), 'the device-bus emulator is still there')
  for (const id of ['40000001', '40000002']) {
    const board = boards.find((b) => b.board_id === id)
    if (board === undefined) { t.fail(`board ${id} missing`); continue }
    t.same(board.devices.filter((d) => d.device_type === 'temperature').map((d) => [d.device_id, d.device_info]),
      temperatures.map((s) => [hex4(s.number), s.name]), `${id}: every temperature sensor`)
    t.same(board.devices.filter((d) => d.device_type === 'fan_speed').map((d) => [d.device_id, d.device_info]),
      fans.map((s) => [hex4(s.number), s.name]), `${id}: every fan`)
    for (const s of temperatures) {
      const r = await get(app, `/read/temperature/${id}/${hex4(s.number)}`)
      const c = (r.json() as { temperature_c: number }).temperature_c
      t.ok(c >= (s.min ?? s.value) - 1 && c <= (s.max ?? s.value) + 1, `${id} ${s.name}: ${c} C within its range`)
    }
    const fan = await get(app, `/read/fan_speed/${id}/${hex4(fans[0].number)}`)
    const rpm = (fan.json() as { speed_rpm: number }).speed_rpm
    t.ok(rpm >= fans[0].min! - 100 && rpm <= fans[0].max! + 100, `${id} FAN1: ${rpm} RPM within its range`)
  }
  t.same(app.embeddedBmcs?.map((s) => s.activeSuites), [[17], [3]], 'the bridge logged in with suite 17 to the first BMC and 3 to the second')
})

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

async function scanIds (url: string): Promise<string[]> {
  const res = await fetch(`${url}/opendcre/1.2/scan`)
  return ((await res.json()) as { boards: Board[] }).boards.map((b) => b.board_id)
}

t.test('opendcre serve with no backend flag lists the IPMI boards; --emulator gives only the emulator', async (t) => {
  const plain = await startListening(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0'])
  t.teardown(() => { plain.child.kill('SIGKILL') })
  const ids = await scanIds(plain.url)
  t.ok(ids.includes('40000001') && ids.includes('40000002'), `IPMI boards by default (${ids.join(', ')})`)
  t.ok(ids.includes('00000001'), 'beside the device-bus emulator on simple.json')
  await stop(plain.child)

  const named = await startListening(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--emulator', 'emulator-configs/simple.json'])
  t.teardown(() => { named.child.kill('SIGKILL') })
  const only = await scanIds(named.url)
  t.notOk(only.some((id) => id.startsWith('4')), `--emulator named: no IPMI boards (${only.join(', ')})`)
  await stop(named.child)
})
