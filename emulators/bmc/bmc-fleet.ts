/**
 * N independent emulated BMCs on N consecutive UDP ports of one address, each
 * with its own state, sessions and sequence numbers (for fleet tests and
 * benches). One process, one socket per BMC.
 */
import type { DriverLogger } from '../../drivers/logger.js'
import type { BmcEmulatorConfig } from './bmc-emulator-config.js'
import { SwitchingRecorder } from './power-switching.js'
import { BmcServer } from './rmcp-server.js'

interface BmcFleetOptions {
  host?: string
  /** The first BMC's port; 0: every BMC on an ephemeral port. */
  port?: number
  count?: number
  log?: DriverLogger
}

export class BmcFleet {
  private constructor (readonly servers: BmcServer[], readonly switching: SwitchingRecorder) {}

  static async start (config: BmcEmulatorConfig, options: BmcFleetOptions = {}): Promise<BmcFleet> {
    const count = options.count ?? 1
    const servers: BmcServer[] = []
    const switching = new SwitchingRecorder()
    try {
      for (let i = 0; i < count; i++) {
        const port = options.port === undefined || options.port === 0 ? 0 : options.port + i
        const server = new BmcServer(config, { host: options.host, port, log: options.log?.child({ bmc: i + 1 }), switching })
        await server.listen()
        servers.push(server)
      }
    } catch (err) {
      await Promise.all(servers.map(async (s) => await s.close()))
      throw err
    }
    return new BmcFleet(servers, switching)
  }

  get ports (): number[] {
    return this.servers.map((s) => s.port)
  }

  /** Sessions held across the fleet (active or being set up). */
  get sessions (): number {
    return this.servers.reduce((n, s) => n + s.sessionCount, 0)
  }

  async close (): Promise<void> {
    await Promise.all(this.servers.map(async (s) => await s.close()))
  }
}
