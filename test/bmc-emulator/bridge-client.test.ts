/**
 * Our own client (connectBmc, the bridge's connection) against the emulator:
 * suite 3, suite 17, and no algorithms named (it asks the BMC and takes 17).
 * The readings, chassis, boot device and FRU it returns are the config's.
 */
import t from 'tap'
import { connectBmc } from '../../drivers/ipmi/bridge-connection.js'
import type { BmcConfigEntry } from '../../drivers/ipmi/bmc-config.js'
import { CIPHER_SUITES } from '../../drivers/ipmi/rmcp/index.js'
import { resolution, startBmc, steadyConfig } from './emulator-kit.js'

function entry (port: number, suite?: number): BmcConfigEntry {
  const algorithms = suite === undefined ? {} : { auth: CIPHER_SUITES[suite].auth, integrity: CIPHER_SUITES[suite].integrity, confidentiality: CIPHER_SUITES[suite].confidentiality }
  return { target: { host: '127.0.0.1', port, username: 'ADMIN', password: 'ADMIN', ...algorithms }, bootValidBit: 'honour', timeoutMs: 3000 }
}

for (const suite of [3, 17, undefined]) {
  t.test(`connectBmc over ${suite === undefined ? 'the strongest suite offered' : `suite ${suite}`}`, async (t) => {
    const config = steadyConfig()
    const bmc = await startBmc(t, config)
    const conn = connectBmc(entry(bmc.port, suite))
    t.teardown(async () => await conn.close())

    const sensors = await conn.ops.sensors()
    t.same(sensors.map((s) => s.number), config.sensors.map((s) => s.number), 'every SDR sensor, in repository order')
    t.same(sensors.map((s) => s.name), config.sensors.map((s) => s.name))
    for (const s of config.sensors.filter((x) => x.kind !== 'discrete')) {
      const value = await conn.ops.readSensor(s.number)
      t.ok(Math.abs(value - s.value) <= resolution(s), `${s.name}: ${value} is the configured ${s.value}`)
    }
    t.same(await conn.ops.chassisStatus(), { power: 'on', powerFault: false, identify: 'off' })
    await conn.ops.chassisControl('off')
    t.equal(bmc.device.power, 'off')
    t.equal((await conn.ops.chassisStatus()).power, 'off')
    await conn.ops.chassisControl('on')
    t.equal(bmc.device.power, 'on')
    await conn.ops.identify('on')
    t.equal(bmc.device.identify, 'indefinite')
    t.equal((await conn.ops.chassisStatus()).identify, 'on')
    await conn.ops.identify('off')
    t.equal(bmc.device.identify, 'off')
    t.equal(await conn.ops.bootTarget(), 'no_override')
    await conn.ops.setBootTarget('pxe')
    t.equal(await conn.ops.bootTarget(), 'pxe')
    t.equal(bmc.device.bootFlags[1] >> 2, 1, 'the BMC keeps the PXE selector')
    const fru = await conn.ops.fru()
    t.match(fru, {
      board_info: { manufacturer: 'Supermicro', product_name: 'X12DPU-6', serial_number: 'OM21BS003117' },
      chassis_info: { chassis_type: 'rack mount chassis', serial_number: 'C8190LK21AB0042' },
      product_info: { asset_tag: 'DC1-R12-U07', product_name: 'SYS-120U-TNR' }
    })
    t.equal(bmc.activeSessionCount, 1, 'one long-lived session for all of it')
    t.same(bmc.activeSuites, [suite ?? 17], 'the suite named, or the strongest the BMC offers (3 and 17: 17)')
    await conn.close()
    t.equal(bmc.activeSessionCount, 0, 'closed on the BMC when the connection closes')
  })
}
