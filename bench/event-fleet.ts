/**
 * The emulated BMCs of bench:events, in a process of their own: N BMCs on
 * consecutive ports from the shipped config (readings steady), and a fault
 * injector on stdin. Each line {"cross": i} pushes BMC i's sensor 1 (CPU1
 * Temp) just past its upper critical threshold, which logs a SEL event as a
 * BMC does; the answer line {"event": "crossed", "bmc": i, "at": ms since
 * the epoch} says when. Prints {"event": "listening"} once every BMC listens.
 */
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { packageRoot } from '../config/paths.js'
import { loadBmcEmulatorConfig } from '../emulators/bmc/bmc-emulator-config.js'
import { BmcFleet } from '../emulators/bmc/bmc-fleet.js'

const { values } = parseArgs({ options: { count: { type: 'string', default: '1000' }, port: { type: 'string', default: '31000' } } })

async function main (): Promise<void> {
  const config = loadBmcEmulatorConfig(join(packageRoot, 'emulator-configs', 'bmc-emulator.json'))
  config.sensors = config.sensors.map((s) => ({ ...s, drift: 0 }))
  const fleet = await BmcFleet.start(config, { host: '127.0.0.1', port: Number(values.port), count: Number(values.count) })
  process.stdout.write(JSON.stringify({ event: 'listening', count: fleet.servers.length }) + '\n')
  const lines = createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    const i = Number((JSON.parse(line) as { cross?: unknown }).cross)
    const server = fleet.servers[i]
    if (server === undefined) return
    server.device.crossThreshold(1, 'ucr')
    process.stdout.write(JSON.stringify({ event: 'crossed', bmc: i, at: Date.now() }) + '\n')
  })
  lines.on('close', () => { fleet.close().finally(() => process.exit(0)).catch(() => {}) })
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
