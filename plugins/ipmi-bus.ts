import fp from 'fastify-plugin'
import { ConfigError } from '../drivers/errors.js'
import { loadBmcConfig, type BmcConfigEntry } from '../drivers/ipmi/bmc-config.js'
import { connectBmc, type BridgeSessionStatus } from '../drivers/ipmi/bridge-connection.js'
import { IpmiBus, type BridgeBmc } from '../drivers/ipmi/ipmi-bus.js'
import { boardIdHex } from '../drivers/bus.js'
import { BoundLogger, type DriverLogger } from '../drivers/logger.js'
import type { QueueLimits } from '../drivers/queueing/fair-queue.js'
import { bmcKey, servedBy, shareOf, type ShardSettings } from '../config/shard.js'

export type { BridgeSessionStatus as BmcSessionStatus } from '../drivers/ipmi/bridge-connection.js'

/** A BMC connected for the bridge: its operations plus its session's status. */
export type BridgeConnection = BridgeBmc & { status: () => BridgeSessionStatus }

export type BmcConnector = (entry: BmcConfigEntry, log: DriverLogger, queue?: QueueLimits) => BridgeConnection

/** The real connection: an RMCP+ session over UDP and the IPMI commands over it, behind a bounded fair queue. */
export const connectOverUdp: BmcConnector = (entry, log, queue) => connectBmc(entry, { log, queue })

interface IpmiBackendOptions {
  /** bmc_config.json */
  file: string
  /** BMCs given directly (the embedded default), in place of reading `file`. */
  entries?: BmcConfigEntry[]
  /** Makes one BMC's session and operations (default: connectOverUdp; tests inject fakes). */
  connect?: BmcConnector
  /** Each BMC's queue: depth and wait (docs/hardening.md). */
  queue?: QueueLimits
  /** This instance's shard: only its share of the BMCs is connected; the others' boards answer 421 naming their owner. */
  shard?: ShardSettings
}

/**
 * The IPMI bridge backend: every BMC of bmc_config.json becomes a board
 * (0x40000001, ...) served by its own long-lived RMCP+ session, opened on
 * first use. A missing or invalid file leaves the bridge unavailable with one
 * log line naming the problem; everything else keeps working.
 */
export default fp<IpmiBackendOptions>(async (fastify, opts) => {
  let entries: BmcConfigEntry[]
  try {
    entries = opts.entries ?? loadBmcConfig(opts.file)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    fastify.log.error({ file: opts.file, reason: err.message }, `IPMI bridge unavailable: ${err.message}`)
    fastify.buses.register(new IpmiBus([], { file: opts.file, unavailable: err.message }))
    return
  }
  const connect = opts.connect ?? connectOverUdp
  // a shard connects only the BMCs it owns; each keeps the board id of its place in the file
  const { mine, slots, owners } = shareOf(entries, (e) => bmcKey(e.target.host, e.target.port), opts.shard)
  // each BMC's lines name it and its board; bound at each line rather than a pino child a BMC (docs/benchmarks.md, issue 24)
  const connections = mine.map((entry, i) =>
    connect(entry, new BoundLogger(fastify.log, { bmc: bmcKey(entry.target.host, entry.target.port), board: boardIdHex(0x40000000 | (slots[i] + 1)) }), opts.queue))
  fastify.buses.register(new IpmiBus(connections, { file: opts.file, slots, powerOnWatts: mine.map((e) => e.powerOnWatts) }))
  if (opts.shard !== undefined) {
    fastify.buses.servedElsewhere(servedBy(owners, opts.shard, (boardId) => ((boardId >>> 24) === 0x40 ? (boardId & 0x00ffffff) - 1 : -1)))
    fastify.log.info({ file: opts.file, shard: `${opts.shard.index}/${opts.shard.count}`, bmcs: mine.length, of: entries.length }, 'IPMI bridge configured (this shard\'s share)')
  } else {
    fastify.log.info({ file: opts.file, bmcs: entries.map((e) => bmcKey(e.target.host, e.target.port)) }, 'IPMI bridge configured')
  }
}, { name: 'ipmi-bus', fastify: '5.x', dependencies: ['config', 'bus-registry'] })
