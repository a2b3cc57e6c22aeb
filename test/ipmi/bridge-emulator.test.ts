/**
 * The bridge (the service as it ships, bmc_config.json, our RMCP+ client)
 * against the TypeScript BMC emulator over cipher suites 17 and 3, every value
 * the API returns cross-checked with ipmitool -I lanplus -C 17 / -C 3 against
 * the same emulated BMC: sensors of every type, DCMI input power, the SEL.
 * Board 40000001 offers only suite 17, 40000002 only suite 3; the entries of
 * bmc_config.json name no algorithms, so the bridge asks each BMC and takes
 * what it offers; 40000003 names cipher_suite 17 for a BMC offering 3 and 17.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { build, get } from '../helper.js'
import { cells, ipmitool, startBmc, steadyConfig } from '../bmc-emulator/emulator-kit.js'

// ipmitool prints SEL times in local time: make that UTC for its children
process.env.TZ = 'UTC'

const BOARDS: Array<{ board: string, suite: number, offered: Array<3 | 17>, named: Record<string, number> }> = [
  { board: '40000001', suite: 17, offered: [17], named: {} },
  { board: '40000002', suite: 3, offered: [3], named: {} },
  { board: '40000003', suite: 17, offered: [3, 17], named: { cipher_suite: 17 } }
]
const FIELD: Record<string, string> = { temperature: 'temperature_c', fan_speed: 'speed_rpm', voltage: 'voltage_v', current: 'current_a', power: 'power_w' }
const UNIT_TYPE: Record<string, string> = { 'degrees C': 'temperature', RPM: 'fan_speed', Volts: 'voltage', Amps: 'current', Watts: 'power' }

t.test('the bridge over suites 17 and 3 against the BMC emulator agrees with ipmitool', async (t) => {
  const bmcs: Array<Awaited<ReturnType<typeof startBmc>>> = []
  for (const b of BOARDS) bmcs.push(await startBmc(t, steadyConfig((c) => { c.cipher_suites = b.offered })))
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-bridge-emu-'))
  const file = join(dir, 'bmc_config.json')
  writeFileSync(file, JSON.stringify({
    bmcs: BOARDS.map((b, i) => ({ bmc_ip: '127.0.0.1', bmc_port: bmcs[i].port, username: 'ADMIN', password: 'ADMIN', ...b.named }))
  }))
  const app = await build(t, { bmcConfig: file })

  for (const [i, { board, suite }] of BOARDS.entries()) {
    const bmc = bmcs[i]
    const tool = async (...args: string[]): Promise<string> => {
      const r = await ipmitool(bmc.port, suite, args)
      t.equal(r.code, 0, `ipmitool -C ${suite} ${args.join(' ')} (${r.stderr.trim()})`)
      return r.stdout
    }

    await t.test(`${board} (suite ${suite}): scan and read every sensor as ipmitool sensor list reads it`, async (t) => {
      const list = (await tool('sensor', 'list')).trim().split('\n').map(cells)
      const scan = (await get(app, `/scan/${board}`)).json() as { boards: Array<{ devices: Array<{ device_id: string, device_type: string, device_info?: string }> }> }
      const devices = scan.boards[0].devices.slice(2)
      const analog = list.filter((c) => UNIT_TYPE[c[2]] !== undefined)
      t.same(devices.map((d) => d.device_info), analog.map((c) => c[0]), 'one device per analog sensor ipmitool lists, the discrete one left out')
      t.same(devices.map((d) => d.device_type), analog.map((c) => UNIT_TYPE[c[2]]), 'device types by unit: temperature, fan_speed, voltage, current, power')
      t.ok(['voltage', 'current', 'power'].every((type) => devices.some((d) => d.device_type === type)), 'the emulator has each new type')
      for (const d of devices) {
        const row = analog.find((c) => c[0] === d.device_info)!
        const res = await get(app, `/read/${d.device_type}/${board}/${d.device_id}`)
        t.equal(res.statusCode, 200)
        const value = (res.json() as Record<string, number>)[FIELD[d.device_type]]
        t.ok(Math.abs(value - Number(row[1])) < 0.0005, `${d.device_info}: ${value} = ipmitool's ${row[1]} ${row[2]}`)
      }
    })

    await t.test(`${board} (suite ${suite}): input_power is ipmitool's DCMI power reading`, async (t) => {
      const reading = await tool('dcmi', 'power', 'reading')
      const watts = Number(/Instantaneous power reading:\s+(\d+) Watts/.exec(reading)?.[1])
      const res = await get(app, `/power/status/${board}/0100`)
      t.equal(res.json().power_status, 'on')
      t.equal(res.json().input_power, watts, `${watts} W`)
      t.ok(watts > 0)
    })

    await t.test(`${board} (suite ${suite}): events are ipmitool's sel elist`, async (t) => {
      const rows = (await tool('sel', 'elist')).trim().split('\n').map(cells)
      const body = (await get(app, `/events/${board}`)).json() as { events: Array<Record<string, string | number | null>> }
      t.equal(body.events.length, rows.length)
      let compared = 0
      for (const [n, e] of body.events.entries()) {
        const [id, date, time, sensor, event, direction, reading] = rows[n]
        t.equal(parseInt(String(e.record_id), 16), parseInt(id, 16), `${n}: record id`)
        const iso = String(e.time)
        // with TZ=UTC ipmitool prints "03/04/25 | 09:12:44 UTC"
        t.equal(`${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(2, 4)} ${iso.slice(11, 19)} UTC`, `${date} ${time}`, `${n}: time`)
        t.equal(`${String(e.sensor_type)} ${String(e.sensor)}`, sensor, `${n}: sensor`)
        // ipmitool appends the (empty) extra data of a sensor-specific event: "Failure detected ()"
        t.equal(e.event, event.replace(/ \(\)$/, ''), `${n}: event`)
        t.equal(e.direction, direction.toLowerCase(), `${n}: direction`)
        const m = /^Reading (\S+) [<>] Threshold (\S+)/.exec(reading ?? '')
        if (m !== null) {
          t.same([e.reading, e.threshold], [Number(m[1]), Number(m[2])], `${n}: reading ${m[1]} and threshold ${m[2]}`)
          compared++
        }
      }
      t.ok(compared >= 2, `${compared} threshold events with reading and threshold compared`)
      const scanned = ((await get(app, `/scan/${board}`)).json() as { boards: Array<{ devices: Array<{ device_id: string }> }> }).boards[0].devices.map((d) => d.device_id)
      t.ok(body.events.every((e) => e.device_id === undefined || scanned.includes(String(e.device_id))), 'every device_id is a device scan lists')
      t.ok(body.events.some((e) => e.device_id === undefined && e.sensor === 'PS1 Status'), 'the discrete power supply sensor is named but is no device')
    })

    t.same(bmc.activeSuites.filter((s) => s !== suite), [], `${board}: the bridge's session used suite ${suite}`)
    t.ok(bmc.activeSuites.includes(suite))
  }
})

t.test('a sensor crossing its upper critical threshold on a suite-17 BMC shows in /read and as new critical events in /events', async (t) => {
  const bmc = await startBmc(t, steadyConfig((c) => { c.cipher_suites = [17] }))
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-bridge-emu-'))
  const file = join(dir, 'bmc_config.json')
  writeFileSync(file, JSON.stringify({ bmcs: [{ bmc_ip: '127.0.0.1', bmc_port: bmc.port, username: 'ADMIN', password: 'ADMIN' }] }))
  const app = await build(t, { bmcConfig: file })
  const before = (await get(app, '/events/40000001')).json().events.length as number
  const startedAt = Date.now()
  const value = bmc.device.crossThreshold(1, 'ucr')
  t.same((await get(app, '/read/temperature/40000001/0001')).json(), { temperature_c: value }, `CPU1 Temp reads ${value}`)
  const events = (await get(app, '/events/40000001')).json().events as Array<Record<string, string | number | null>>
  const added = events.slice(before)
  t.same(added.map((e) => [e.sensor, e.event, e.direction, e.severity, e.device_id]), [
    ['CPU1 Temp', 'Upper Non-critical going high', 'asserted', 'warning', '0001'],
    ['CPU1 Temp', 'Upper Critical going high', 'asserted', 'critical', '0001']
  ], 'the two crossings, newest last')
  for (const e of added) {
    const at = Date.parse(String(e.time))
    t.ok(at >= startedAt - 2000 && at <= Date.now() + 1000, `${String(e.event)}: stamped now by the BMC clock (${String(e.time)})`)
  }
  const sel = (await ipmitool(bmc.port, 17, ['sel', 'elist'])).stdout.trim().split('\n').map(cells)
  t.equal(sel.length, events.length, 'ipmitool -C 17 sees as many entries')
  t.equal(sel[sel.length - 1][4], 'Upper Critical going high')
})

t.test('a board\'s power then LED read, as the poller makes them, cost one Get Chassis Status; an LED read still sees its own change and, a moment later, another tool\'s', async (t) => {
  const bmc = await startBmc(t, steadyConfig((c) => { c.cipher_suites = [17] }))
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-bridge-emu-'))
  const file = join(dir, 'bmc_config.json')
  writeFileSync(file, JSON.stringify({ bmcs: [{ bmc_ip: '127.0.0.1', bmc_port: bmc.port, username: 'ADMIN', password: 'ADMIN' }] }))
  // no poller: every datagram counted here is one of this test's requests
  const app = await build(t, { bmcConfig: file, poll: false })
  t.equal((await get(app, '/led/40000001/0300')).statusCode, 200, 'logged in, DCMI asked')
  await get(app, '/power/40000001/0100/status')

  const datagrams = (): number => bmc.counters.datagrams
  let before = datagrams()
  const power = (await get(app, '/power/40000001/0100/status')).json()
  t.equal(datagrams() - before, 2, 'power: Get Chassis Status and the DCMI power reading')
  before = datagrams()
  t.same((await get(app, '/led/40000001/0300')).json(), { led_color: 'unknown', led_state: 'off' })
  t.equal(datagrams() - before, 0, 'the LED read right after takes the power read\'s answer')
  t.equal(power.power_status, 'on')

  before = datagrams()
  t.same((await get(app, '/led/40000001/0300/on')).json(), { led_color: 'unknown', led_state: 'on' }, 'its own change, read back from the BMC')
  t.equal(datagrams() - before, 2, 'Chassis Identify, then a Get Chassis Status of its own')

  const tool = await ipmitool(bmc.port, 17, ['chassis', 'identify', '0'])
  t.equal(tool.code, 0, tool.stderr)
  await new Promise((resolve) => setTimeout(resolve, 300))
  before = datagrams()
  t.same((await get(app, '/led/40000001/0300')).json(), { led_color: 'unknown', led_state: 'off' }, 'ipmitool\'s change, 300 ms on')
  t.equal(datagrams() - before, 1, 'an answer older than the moment is not taken')

  t.equal((await ipmitool(bmc.port, 17, ['chassis', 'power', 'off'])).code, 0)
  t.equal((await get(app, '/power/40000001/0100/status')).json().power_status, 'off', 'a power read always asks: another tool\'s change shows at once')
})
