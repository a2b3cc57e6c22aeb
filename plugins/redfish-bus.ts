import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import { boardIdHex } from '../drivers/bus.js'
import { ConfigError } from '../drivers/errors.js'
import { isRedfishBoardId, RedfishBus, redfishBoardId, type RedfishServer } from '../drivers/redfish/redfish-bus.js'
import { RedfishClient } from '../drivers/redfish/redfish-client.js'
import { loadRedfishConfig, redfishLimits, type RedfishServerConfig } from '../drivers/redfish/redfish-config.js'
import { RedfishService } from '../drivers/redfish/redfish-service.js'
import { DEFAULT_REDFISH_EMULATOR_CONFIG } from '../config/paths.js'
import { loadRedfishEmulatorConfig } from '../emulators/redfish/emulator-config.js'
import { RedfishEmulatorServer } from '../emulators/redfish/emulator-server.js'
import { redfishKey, servedBy, shareOf, type ShardSettings } from '../config/shard.js'

export interface RedfishBackendOptions {
  /** redfish_config.json */
  file?: string
  /** Servers given directly (tests, the embedded emulator); used when no file is named. */
  servers?: RedfishServerConfig[]
  /** Start one emulated Redfish server in-process (the CLI's default with no backend flags) and use it. */
  embedded?: boolean
  /** How long scan-all waits for one server (ms, default 2000). */
  scanBudgetMs?: number
  /** How long scans reuse a server's discovery (ms, default 60000). */
  inventoryMaxAgeMs?: number
  /** This instance's shard: only its share of the services is connected; the others' boards answer 421 naming their owner. */
  shard?: ShardSettings
}

function connect (config: RedfishServerConfig, index: number, log: FastifyBaseLogger, inventoryMaxAgeMs?: number): RedfishServer {
  const serviceLog = log.child({ redfish: new URL(config.url).origin, board: boardIdHex(redfishBoardId(index)) })
  const client = new RedfishClient(config, { log: serviceLog, connections: config.limits?.concurrency })
  return {
    url: client.url,
    service: new RedfishService(client, { inventoryMaxAgeMs, limits: config.limits, log: serviceLog }),
    status: () => client.status(),
    close: async () => await client.close()
  }
}

/**
 * The Redfish backend: every ComputerSystem (and shared chassis) of every
 * service of redfish_config.json becomes a board (0x70000001, ...; the id
 * scheme is redfishBoardId's) with one client per service (connection
 * pool, session, request bound). An
 * invalid file leaves Redfish unavailable (a bus with no servers and the
 * reason in /health) with one log line naming file, field and reason.
 */
export default fp<RedfishBackendOptions>(async (fastify, opts) => {
  let servers: RedfishServerConfig[] = opts.servers ?? []
  const file = opts.file ?? (opts.embedded === true ? 'embedded emulator' : '')
  if (opts.file !== undefined) {
    try {
      servers = loadRedfishConfig(opts.file)
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      fastify.log.error({ file: opts.file, field: err.path, reason: err.message }, `Redfish unavailable: ${err.message}`)
      fastify.buses.register(new RedfishBus([], { file: opts.file, unavailable: err.message }))
      return
    }
  } else if (opts.embedded === true) {
    const config = loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG)
    const emulator = new RedfishEmulatorServer(config)
    const url = await emulator.listen(0, '127.0.0.1')
    fastify.addHook('onClose', async () => await emulator.close())
    servers = [{ url, credentials: { username: config.username ?? '', password: config.password ?? '' }, verifyTls: true, timeoutMs: 3000, limits: redfishLimits() }]
  }
  // a shard connects only the services it owns; each keeps the board id of its place in the file
  const { mine, slots, owners } = shareOf(servers, (server) => redfishKey(server.url), opts.shard)
  const connections = mine.map((server, i) => connect(server, slots[i], fastify.log, opts.inventoryMaxAgeMs))
  fastify.buses.register(new RedfishBus(connections, { file, scanBudgetMs: opts.scanBudgetMs, slots }))
  if (opts.shard !== undefined) {
    fastify.buses.servedElsewhere(servedBy(owners, opts.shard, (boardId) => (isRedfishBoardId(boardId) ? (boardId & 0xffff) - 1 : -1)))
  }
  fastify.log.info({ file, servers: connections.map((c) => c.url) }, 'Redfish configured')
}, { name: 'redfish-bus', fastify: '5.x', dependencies: ['config', 'bus-registry'] })
