/**
 * FreeIPMI (ipmi-sensors, ipmi-fru, ipmi-chassis, ipmi-sel, ipmi-dcmi over
 * LAN_2_0) drives the BMC emulator with cipher suites 17 and 3, and what it
 * prints agrees with the emulator's config.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { cells, freeipmi, resolution, startBmc, steadyConfig } from './emulator-kit.js'

const config = steadyConfig()

for (const suite of [17, 3]) {
  t.test(`FreeIPMI -I ${suite}`, async (t) => {
    const bmc = await startBmc(t, steadyConfig())
    const cache = mkdtempSync(join(tmpdir(), 'bmc-emulator-sdr-'))
    t.teardown(() => rmSync(cache, { recursive: true, force: true }))
    const tool = async (name: string, ...args: string[]): Promise<string> => {
      const r = await freeipmi(name, bmc.port, suite, args)
      t.equal(r.code, 0, `${name} ${args.join(' ')} exits 0 (${r.stderr.trim()})`)
      return r.stdout
    }
    const sdrCache = ['--sdr-cache-directory', cache, '--quiet-cache']

    const sensors = (await tool('ipmi-sensors', ...sdrCache, '--output-sensor-thresholds')).trim().split('\n').slice(1).map(cells)
    t.equal(sensors.length, config.sensors.length, 'one line per sensor')
    for (const s of config.sensors) {
      const row = sensors.find((c) => c[1] === s.name)
      if (row === undefined) { t.fail(`${s.name} missing`); continue }
      if (s.kind === 'discrete') { t.equal(row[11], "'Presence detected'"); continue }
      t.ok(Math.abs(Number(row[3]) - s.value) <= resolution(s), `${s.name}: ${row[3]} is the configured ${s.value}`)
      t.equal(row[11], "'OK'", `${s.name}: within its thresholds`)
      const names = ['lnr', 'lcr', 'lnc', 'unc', 'ucr', 'unr'] as const
      names.forEach((name, i) => {
        const want = s.thresholds?.[name]
        if (want === undefined) t.equal(row[5 + i], 'N/A', `${s.name}: no ${name}`)
        else t.ok(Math.abs(Number(row[5 + i]) - want) <= resolution(s), `${s.name}: ${name} ${row[5 + i]} is the configured ${want}`)
      })
    }

    const fru = await tool('ipmi-fru', ...sdrCache)
    t.match(fru, /FRU Chassis Type: Rack Mount Chassis/)
    t.match(fru, /FRU Board Manufacturing Date\/Time: 06\/12\/23 - 08:00:00/)
    t.match(fru, /FRU Board Manufacturer: Supermicro/)
    t.match(fru, /FRU Board Serial Number: OM21BS003117/)
    t.match(fru, /FRU Product Name: SYS-120U-TNR/)
    t.match(fru, /FRU Product Asset Tag: DC1-R12-U07/)

    t.match(await tool('ipmi-chassis', '--get-chassis-status'), /System Power\s+: on/)
    await tool('ipmi-chassis', '--chassis-control=POWER-DOWN')
    t.equal(bmc.device.power, 'off')
    t.match(await tool('ipmi-chassis', '--get-chassis-status'), /System Power\s+: off/)
    t.match(await tool('ipmi-dcmi', '--get-system-power-statistics'), new RegExp(`Current Power\\s+: ${config.dcmi!.off_power!} Watts`))
    await tool('ipmi-chassis', '--chassis-control=POWER-UP')
    t.match(await tool('ipmi-dcmi', '--get-system-power-statistics'), new RegExp(`Current Power\\s+: ${config.dcmi!.power} Watts[\\s\\S]*Power Measurement\\s+: Active`))
    await tool('ipmi-chassis', '--chassis-identify=FORCE')
    t.match(await tool('ipmi-chassis', '--get-chassis-status'), /Chassis Identify state\s+: Indefinite on/)
    t.match(await tool('ipmi-chassis', '--get-boot-flags'), /Boot device selector\s+: No override/)

    const sel = (await tool('ipmi-sel', ...sdrCache)).trim().split('\n').slice(1).map(cells)
    t.equal(sel.length, config.sel!.length)
    t.same(sel.map((c) => c[1]), ['Mar-04-2025', 'Mar-04-2025', 'Mar-04-2025', 'May-19-2025'])
    t.same(sel.map((c) => c[3]), ['PS1 Status', 'FAN1', 'FAN1', 'CPU1 Temp'])
    t.match(sel[3][5], /Upper Non-critical - going high ; Sensor Reading = 89.00 C ; Threshold = 85.00 C/)

    // "no active set power limit" (DCMI completion code 0x80) with the limit fields empty
    t.match(await tool('ipmi-dcmi', '--get-power-limit'), /Power Limit Requested\s+: 0 watts/)
    t.equal(bmc.activeSessionCount, 0, 'every session closed')
  })
}
