import fp from 'fastify-plugin'
import { loadBmcEmulatorConfig } from '../emulators/bmc/bmc-emulator-config.js'
import { BmcServer } from '../emulators/bmc/rmcp-server.js'
import type { QueueLimits } from '../drivers/queueing/fair-queue.js'
import type { BmcConfigEntry } from '../drivers/ipmi/bmc-config.js'
import ipmiBus, { connectOverUdp, type BmcConnector, type BridgeConnection } from './ipmi-bus.js'
import { DEFAULT_BMC_EMULATOR_CONFIG } from '../config/paths.js'

const EMBEDDED_BMC_CONFIG = DEFAULT_BMC_EMULATOR_CONFIG

/** The embedded BMCs: board 40000001 offers only cipher suite 17, board 40000002 only suite 3. */
const EMBEDDED_SUITES = [17, 3] as const

interface EmbeddedBmcOptions {
  /** The BMC emulator config both BMCs start from (default: emulator-configs/bmc-emulator.json). */
  file?: string
  connect?: BmcConnector
  /** Each BMC's queue: depth and wait (docs/hardening.md). */
  queue?: QueueLimits
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The in-process BMC emulators of the default setup (opendcre serve with no backend named). */
    embeddedBmcs?: BmcServer[]
  }
}

/**
 * The default setup's IPMI: two emulated BMCs on loopback (ephemeral UDP
 * ports), one offering only suite 17 and one only suite 3, wired to the IPMI
 * bridge as boards 40000001 and 40000002, so a fresh `npm start` shows IPMI
 * boards beside the device-bus emulator's.
 */
export default fp<EmbeddedBmcOptions>(async (fastify, opts) => {
  const file = opts.file ?? EMBEDDED_BMC_CONFIG
  const base = loadBmcEmulatorConfig(file)
  const servers: BmcServer[] = []
  for (const suite of EMBEDDED_SUITES) {
    const server = new BmcServer({ ...base, cipher_suites: [suite] }, { host: '127.0.0.1', port: 0, log: fastify.log.child({ component: 'bmc-emulator', suite }) })
    await server.listen()
    servers.push(server)
  }
  const admin = base.users.find((u) => u.privilege === 'administrator') ?? base.users[0]
  // no algorithms named: the bridge asks each BMC for its suites and takes the strongest
  const entries: BmcConfigEntry[] = servers.map((s) => ({
    target: { host: '127.0.0.1', port: s.port, username: admin.name, password: admin.password },
    bootValidBit: 'honour'
  }))
  const connections: BridgeConnection[] = []
  const connect = opts.connect ?? connectOverUdp
  await fastify.register(ipmiBus, {
    file: `embedded (${file})`,
    entries,
    queue: opts.queue,
    connect: (entry, log, queue) => {
      const c = connect(entry, log, queue)
      connections.push(c)
      return c
    }
  })
  fastify.decorate('embeddedBmcs', servers)
  fastify.addHook('onClose', async () => {
    // close the bridge's sessions while the BMCs still answer, then the BMCs
    await Promise.allSettled(connections.map(async (c) => await c.close()))
    await Promise.allSettled(servers.map(async (s) => await s.close()))
  })
  fastify.log.info({ bmcs: servers.map((s, i) => ({ port: s.port, suite: EMBEDDED_SUITES[i] })) }, 'embedded BMC emulator started')
}, { name: 'embedded-bmc', fastify: '5.x', dependencies: ['config', 'bus-registry'] })
