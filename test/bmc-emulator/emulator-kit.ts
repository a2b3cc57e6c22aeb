import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { loadBmcEmulatorConfig, type BmcEmulatorConfig } from '../../emulators/bmc/bmc-emulator-config.js'
import { BmcServer, type BmcServerOptions } from '../../emulators/bmc/rmcp-server.js'
import { packageRoot } from '../../config/paths.js'

const exec = promisify(execFile)

/** The shipped realistic BMC. */
export const SHIPPED_CONFIG = join(packageRoot, 'emulator-configs', 'bmc-emulator.json')

/** The shipped config with readings that stay put (drift 0), so a tool's numbers can be compared with it. */
export function steadyConfig (change: (c: BmcEmulatorConfig) => void = () => {}): BmcEmulatorConfig {
  const config = loadBmcEmulatorConfig(SHIPPED_CONFIG)
  config.sensors = config.sensors.map((s) => ({ ...s, drift: 0 }))
  if (config.dcmi !== undefined) config.dcmi = { ...config.dcmi, drift: 0 }
  change(config)
  return config
}

interface Teardown { teardown: (fn: () => unknown) => void }

/** One emulated BMC on 127.0.0.1, an ephemeral port, closed when the test ends. */
export async function startBmc (t: Teardown, config: BmcEmulatorConfig = steadyConfig(), options: BmcServerOptions = {}): Promise<BmcServer> {
  const server = new BmcServer(config, { host: '127.0.0.1', port: 0, ...options })
  await server.listen()
  t.teardown(async () => await server.close())
  return server
}

interface ToolRun { code: number, stdout: string, stderr: string }

async function run (command: string, args: string[], timeoutMs: number): Promise<ToolRun> {
  try {
    const { stdout, stderr } = await exec(command, args, { timeout: timeoutMs })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

/** ipmitool -I lanplus against the emulator (short retries: a lost answer is the test's business). */
export async function ipmitool (port: number, suite: number, args: string[], user = 'ADMIN', password = 'ADMIN', extra: string[] = []): Promise<ToolRun> {
  return await run('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', user, '-P', password, '-C', String(suite), '-N', '1', '-R', '2', ...extra, ...args], 30_000)
}

/** A FreeIPMI tool over LAN_2_0, with its SDR cache in `cacheDir`. */
export async function freeipmi (tool: string, port: number, suite: number, args: string[], user = 'ADMIN', password = 'ADMIN'): Promise<ToolRun> {
  // Debian installs FreeIPMI's tools in /usr/sbin, which a non-root PATH may lack
  const path = existsSync(`/usr/sbin/${tool}`) ? `/usr/sbin/${tool}` : tool
  return await run(path, ['-h', `127.0.0.1:${port}`, '-u', user, '-p', password, '-I', String(suite), '--driver-type=LAN_2_0', '--config-file', '/dev/null', ...args], 30_000)
}

/** The cells of a '|'-separated table line. */
export function cells (line: string): string[] {
  return line.split('|').map((c) => c.trim())
}

/** A config sensor's resolution: one raw count in engineering units. */
export function resolution (s: { m?: number, r_exp?: number }): number {
  return Math.abs((s.m ?? 1) * 10 ** (s.r_exp ?? 0))
}
