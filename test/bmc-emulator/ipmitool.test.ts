/**
 * ipmitool (-I lanplus) drives the BMC emulator over cipher suites 3 and 17,
 * and what it prints agrees with the emulator's config: device id, SDRs,
 * readings and thresholds, FRU, chassis power and identify, boot options,
 * SEL, DCMI power, sessions.
 */
import t from 'tap'
import { cells, ipmitool, resolution, startBmc, steadyConfig } from './emulator-kit.js'

const config = steadyConfig()
const byName = new Map(config.sensors.map((s) => [s.name, s]))
const UNIT: Record<string, string> = { temperature: 'degrees C', fan: 'RPM', voltage: 'Volts', current: 'Amps', power: 'Watts' }

for (const suite of [3, 17]) {
  t.test(`ipmitool -C ${suite}`, async (t) => {
    const bmc = await startBmc(t, steadyConfig())
    const tool = async (...args: string[]): Promise<string> => {
      const r = await ipmitool(bmc.port, suite, args)
      t.equal(r.code, 0, `ipmitool ${args.join(' ')} exits 0 (${r.stderr.trim()})`)
      return r.stdout
    }

    const mc = await tool('mc', 'info')
    t.match(mc, /Device ID\s+: 32\n/)
    t.match(mc, /Firmware Revision\s+: 2\.15\n/)
    t.match(mc, /IPMI Version\s+: 2\.0\n/)
    t.match(mc, /Manufacturer ID\s+: 10876\n/)
    t.match(mc, /Product ID\s+: 2137 /)

    // every configured sensor, its number, entity and value within one raw count
    const elist = (await tool('sdr', 'elist')).trim().split('\n').map(cells)
    t.equal(elist.length, config.sensors.length, 'sdr elist lists every sensor')
    for (const s of config.sensors) {
      const row = elist.find((c) => c[0] === s.name)
      if (row === undefined) { t.fail(`${s.name} missing from sdr elist`); continue }
      t.equal(row[1], `${s.number.toString(16).padStart(2, '0')}h`, `${s.name}: sensor number`)
      t.equal(row[2], 'ok', `${s.name}: status`)
      if (s.kind === 'discrete') { t.equal(row[4], 'Presence detected', `${s.name}: state`); continue }
      const [value, ...unit] = row[4].split(' ')
      t.equal(unit.join(' '), UNIT[s.kind], `${s.name}: unit`)
      t.ok(Math.abs(Number(value) - s.value) <= resolution(s), `${s.name}: ${value} is the configured ${s.value}`)
    }

    // thresholds: lnr, lcr, lnc, unc, ucr, unr columns
    const list = (await tool('sensor', 'list')).trim().split('\n').map(cells)
    for (const s of config.sensors.filter((x) => x.thresholds !== undefined)) {
      const row = list.find((c) => c[0] === s.name)
      if (row === undefined) { t.fail(`${s.name} missing from sensor list`); continue }
      const names = ['lnr', 'lcr', 'lnc', 'unc', 'ucr', 'unr'] as const
      names.forEach((name, i) => {
        const want = s.thresholds?.[name]
        const got = row[4 + i]
        if (want === undefined) t.equal(got, 'na', `${s.name}: no ${name}`)
        else t.ok(Math.abs(Number(got) - want) <= resolution(s), `${s.name}: ${name} ${got} is the configured ${want}`)
      })
    }

    const fru = await tool('fru', 'print', '0')
    const f = config.fru!
    t.match(fru, /Chassis Type\s+: Rack Mount Chassis/)
    t.match(fru, new RegExp(`Chassis Serial\\s+: ${f.chassis!.serial_number!}\\n`))
    t.match(fru, /Board Mfg Date\s+: Mon Jun 12 08:00:00 2023 UTC/)
    t.match(fru, new RegExp(`Board Product\\s+: ${f.board!.product_name!}\\n`))
    t.match(fru, new RegExp(`Board Serial\\s+: ${f.board!.serial_number!}\\n`))
    t.match(fru, new RegExp(`Product Name\\s+: ${f.product!.product_name!}\\n`))
    t.match(fru, new RegExp(`Product Asset Tag\\s+: ${f.product!.asset_tag!}\\n`))

    // chassis power: state kept, DCMI power follows it
    t.match(await tool('chassis', 'power', 'status'), /Chassis Power is on/)
    t.match(await tool('dcmi', 'power', 'reading'), new RegExp(`Instantaneous power reading:\\s+${config.dcmi!.power} Watts`))
    t.match(await tool('chassis', 'power', 'off'), /Down\/Off/)
    t.match(await tool('chassis', 'power', 'status'), /Chassis Power is off/)
    t.equal(bmc.device.power, 'off')
    t.match(await tool('dcmi', 'power', 'reading'), new RegExp(`Instantaneous power reading:\\s+${config.dcmi!.off_power!} Watts`))
    const offWatts = elistValue(await tool('sdr', 'elist'), 'PSU1 Input Power')
    t.equal(offWatts, byName.get('PSU1 Input Power')!.off_value, 'the power sensor reads standby watts while off')
    t.match(await tool('chassis', 'power', 'on'), /Up\/On/)
    t.match(await tool('chassis', 'power', 'status'), /Chassis Power is on/)
    t.match(await tool('chassis', 'power', 'cycle'), /Cycle/)
    t.match(await tool('chassis', 'power', 'status'), /Chassis Power is off/, 'off during the cycle')
    await new Promise((resolve) => setTimeout(resolve, (config.chassis?.cycle_ms ?? 1000) + 100))
    t.match(await tool('chassis', 'power', 'status'), /Chassis Power is on/, 'on again after cycle_ms')

    t.equal(bmc.device.identify, 'off')
    t.match(await tool('chassis', 'identify'), /default \(15 seconds\)/)
    t.equal(bmc.device.identify, 'temporary', 'identify lights the LED for 15 s')
    t.match(await tool('chassis', 'identify', 'force'), /indefinite/)
    t.equal(bmc.device.identify, 'indefinite')

    t.match(await tool('chassis', 'bootdev', 'pxe'), /Set Boot Device to pxe/)
    const param5 = await tool('chassis', 'bootparam', 'get', '5')
    t.match(param5, /Boot Flag Valid/)
    t.match(param5, /Boot Device Selector : Force PXE/)
    t.match(param5, /Options apply to only next boot/)
    // a boot consumes a next-boot override: the valid bit is cleared, as on a real BMC
    await tool('chassis', 'power', 'reset')
    t.match(await tool('chassis', 'bootparam', 'get', '5'), /Boot Flag Invalid/)

    const sel = (await tool('sel', 'list')).trim().split('\n').map(cells)
    t.equal(sel.length, config.sel!.length, 'one line per configured SEL entry')
    t.same(sel.map((c) => c[1]), ['03/04/25', '03/04/25', '03/04/25', '05/19/25'])
    t.match(sel[0][3], /Power Supply #0x50/)
    t.match(sel[1][4], /Lower Critical going low/)
    t.equal(sel[2][5], 'Deasserted')
    t.match(sel[3][4], /Upper Non-critical going high/)

    const sessions = await tool('session', 'info', 'all')
    t.match(sessions, /active sessions\s+: 1\n/)
    t.match(sessions, /privilege level\s+: ADMINISTRATOR/)
    t.match(sessions, /session type\s+: IPMIv2\/RMCP\+/)
    t.match(sessions, /console ip\s+: 127\.0\.0\.1/)
    t.match(await tool('dcmi', 'power', 'get_limit'), /No Active Power Limit/)
    t.equal(bmc.activeSessionCount, 0, 'ipmitool closed every session it opened')
    t.same([...bmc.device.unknownCommands], [], 'no command ipmitool sent went unanswered')
  })
}

function elistValue (text: string, name: string): number {
  const row = text.trim().split('\n').map(cells).find((c) => c[0] === name)
  return Number(row?.[4].split(' ')[0])
}
