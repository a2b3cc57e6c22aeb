import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { BmcFleet } from '../../emulators/bmc/bmc-fleet.js'
import { loadRedfishEmulatorConfig } from '../../emulators/redfish/emulator-config.js'
import { startRedfishEmulators } from '../../emulators/redfish/emulator-server.js'
import { DEFAULT_REDFISH_EMULATOR_CONFIG } from '../../config/paths.js'
import { bmcKey, ownerOf, redfishKey } from '../../config/shard.js'
import { steadyConfig } from '../bmc-emulator/emulator-kit.js'
import { runCli } from '../cli-process.js'
import { build, get } from '../helper.js'

/**
 * Three instances over one inventory (the same bmc_config.json and
 * redfish_config.json, --shard 0/3, 1/3, 2/3) against real emulated BMCs and
 * Redfish services on loopback: each serves only its share, under the board
 * ids of the shared files, and answers 421 naming the owner for the others.
 */

const BMCS = 12
const REDFISH = 5
const URLS = ['http://shard-0.test:5000', 'http://shard-1.test:5000', 'http://shard-2.test:5000']

interface Board { board_id: string, devices: Array<{ device_id: string, device_type: string }> }

t.test('three shards split the BMCs and Redfish services, ids kept, 421 for the others', async (t) => {
  const bmcConfig = steadyConfig()
  const fleet = await BmcFleet.start(bmcConfig, { host: '127.0.0.1', port: 0, count: BMCS })
  t.teardown(async () => await fleet.close())
  const redfish = await startRedfishEmulators(loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG), { count: REDFISH })
  t.teardown(async () => { await Promise.all(redfish.map(async (s) => await s.close())) })

  const dir = mkdtempSync(join(tmpdir(), 'shard-service-'))
  const bmcFile = join(dir, 'bmc_config.json')
  writeFileSync(bmcFile, JSON.stringify({
    bmcs: fleet.ports.map((port) => ({ bmc_ip: '127.0.0.1', bmc_port: port, username: 'ADMIN', password: 'ADMIN', auth_type: 'RAKP_HMAC_SHA1', integrity_type: 'HMAC_SHA1_96', encryption_type: 'AES_CBC_128' }))
  }))
  const redfishFile = join(dir, 'redfish_config.json')
  writeFileSync(redfishFile, JSON.stringify({ servers: redfish.map((s) => ({ url: s.url, username: 'ADMIN', password: 'ADMIN', timeout_ms: 3000 })) }))

  // who should own what: the same hash the CLI's shard-of prints
  const bmcOwners = fleet.ports.map((port) => ownerOf(bmcKey('127.0.0.1', port), 3))
  const redfishOwners = redfish.map((s) => ownerOf(redfishKey(s.url), 3))
  t.ok(new Set(bmcOwners).size > 1, 'the BMCs are spread over more than one shard')

  const apps: FastifyInstance[] = []
  for (let index = 0; index < 3; index++) {
    apps.push(await build(t, { bmcConfig: bmcFile, redfishConfig: redfishFile, shard: `${index}/3`, shardUrls: URLS }))
  }

  const ids = (owners: number[], base: number, shard: number): string[] =>
    owners.flatMap((owner, slot) => (owner === shard ? [((base | (slot + 1)) >>> 0).toString(16).padStart(8, '0')] : []))
  const everyIpmi = new Set<string>()
  const temperatures = new Map<string, string>()
  for (const [index, app] of apps.entries()) {
    const scan = (await get(app, '/scan')).json() as { boards: Board[] }
    const ipmi = scan.boards.filter((b) => b.board_id.startsWith('40'))
    const rf = scan.boards.filter((b) => b.board_id.startsWith('70'))
    t.same(ipmi.map((b) => b.board_id), ids(bmcOwners, 0x40000000, index), `shard ${index}/3 lists its own BMCs, under their places in bmc_config.json`)
    t.same(rf.map((b) => b.board_id), ids(redfishOwners, 0x70000000, index), `shard ${index}/3 lists its own Redfish services`)
    for (const b of ipmi) {
      everyIpmi.add(b.board_id)
      const temperature = b.devices.find((d) => d.device_type === 'temperature')
      if (temperature !== undefined) temperatures.set(b.board_id, temperature.device_id)
    }
    const health = (await get(app, '/health')).json() as { backends: Record<string, { bmcs?: unknown[], servers?: unknown[] }> }
    t.equal(health.backends.ipmi?.bmcs?.length, ids(bmcOwners, 0x40000000, index).length, `shard ${index}/3 holds sessions with its own BMCs only`)
  }
  t.equal(everyIpmi.size, BMCS, 'together the shards list every BMC exactly once')
  t.equal(fleet.sessions, BMCS, 'one session per BMC, whichever shard owns it')

  // a reading: 200 on the owner (the emulator's value), 421 naming the owner elsewhere
  const sensorOf = (device: string): { value: number } | undefined => bmcConfig.sensors.find((s) => s.number === Number.parseInt(device, 16))
  for (const [slot, owner] of bmcOwners.entries()) {
    const board = ((0x40000000 | (slot + 1)) >>> 0).toString(16)
    const device = temperatures.get(board) ?? '0001'
    for (const [index, app] of apps.entries()) {
      const res = await get(app, `/read/temperature/${board}/${device}`)
      if (index === owner) {
        t.equal(res.statusCode, 200, `board ${board} read on its owner, shard ${owner}`)
        const expected = sensorOf(device)?.value
        t.ok(expected !== undefined && Math.abs(res.json().temperature_c - expected) <= 1, `board ${board}: ${String(res.json().temperature_c)} °C, the emulator's ${String(expected)}`)
      } else {
        t.equal(res.statusCode, 421, `board ${board} on shard ${index}: 421`)
        t.same(res.json(), { message: `board ${board} is served by shard ${owner}/3 (${URLS[owner]})` })
      }
    }
  }
  for (const [slot, owner] of redfishOwners.entries()) {
    const board = ((0x70000000 | (slot + 1)) >>> 0).toString(16)
    const other = (owner + 1) % 3
    const res = await get(apps[other], `/version/${board}`)
    t.equal(res.statusCode, 421, `Redfish board ${board} on shard ${other}: 421`)
    t.match(res.json().message, `served by shard ${owner}/3 (${URLS[owner]})`)
    t.equal((await get(apps[owner], `/version/${board}`)).statusCode, 200, `Redfish board ${board} on its owner`)
  }
  // beyond the files: no shard's, v1.2's not-found as before
  const beyond = await get(apps[0], `/version/${(0x40000000 | (BMCS + 1)).toString(16)}`)
  t.same([beyond.statusCode, beyond.json()], [500, { message: 'BMC with board_num was not found.' }])

  // opendcre shard-of prints the same owners (the built CLI)
  const run = await runCli(['shard-of', ...fleet.ports.map((p) => `127.0.0.1:${p}`), redfish[0].url, '--shards', '3', ...URLS.flatMap((u) => ['--shard-url', u])])
  t.equal(run.code, 0, run.stderr)
  t.same(run.stdout.trim().split('\n').map((line) => line.split('\t')[1]),
    [...bmcOwners, redfishOwners[0]].map((o) => `shard ${o}/3 (${URLS[o]})`), 'shard-of names each address\'s owner')
})
