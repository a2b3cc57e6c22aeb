import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadBmcConfig } from '../../drivers/ipmi/bmc-config.js'
import { IpmiBus, type BridgeBmc } from '../../drivers/ipmi/ipmi-bus.js'

/** power_on_watts in bmc_config.json reaches the IPMI bus's power targets (bulk power's inrush bound). */
const dir = mkdtempSync(join(tmpdir(), 'opendcre-power-targets-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('each BMC is a power target (device 0100), with its declared power_on_watts', async (t) => {
  const file = join(dir, 'bmc_config.json')
  writeFileSync(file, JSON.stringify({
    bmcs: [
      { bmc_ip: '10.0.0.1', username: 'u', password: 'p', power_on_watts: 450 },
      { bmc_ip: '10.0.0.2', username: 'u', password: 'p' }
    ]
  }))
  const entries = loadBmcConfig(file)
  t.same(entries.map((e) => e.powerOnWatts), [450, undefined])
  const bus = new IpmiBus(entries.map((e) => ({ target: e.target }) as unknown as BridgeBmc), { powerOnWatts: entries.map((e) => e.powerOnWatts) })
  t.same(bus.powerTargets(), [
    { board_id: 0x40000001, device_id: 0x0100, power_on_watts: 450 },
    { board_id: 0x40000002, device_id: 0x0100 }
  ])
})

t.test('a power_on_watts that is not a number of watts is refused at startup, naming the field', async (t) => {
  const file = join(dir, 'bad.json')
  writeFileSync(file, JSON.stringify({ bmcs: [{ bmc_ip: '10.0.0.1', username: 'u', password: 'p', power_on_watts: -5 }] }))
  t.throws(() => loadBmcConfig(file), { message: /bmcs\[0\]\.power_on_watts.*must be the estimated power-on draw in watts/ })
})
