/**
 * `opendcre bmc-emulator [--host H] [--port P] [--count N] CONFIG`: the BMC
 * emulator as a process. Prints one JSON line when every BMC listens
 * ({"event":"listening",...}) and, with --stats-ms, one statistics line per
 * interval (sessions held, datagrams, boards switching on now and at most,
 * CPU and RSS), which the fleet and bulk benches read.
 */
import { parseCommandArgs } from './command-args.js'
import { pino } from 'pino'
import { loadBmcEmulatorConfig } from '../emulators/bmc/bmc-emulator-config.js'
import { BmcFleet } from '../emulators/bmc/bmc-fleet.js'

function fail (message: string): never {
  process.stderr.write(`opendcre: ${message}\n`)
  process.exit(1)
}

function integer (name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < min || n > max) fail(`--${name}: not an integer from ${min} to ${max}: '${text}'`)
  return n
}

export async function runBmcEmulator (args: string[], usage: string): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '623' },
    count: { type: 'string', default: '1' },
    drop: { type: 'string' },
    'delay-ms': { type: 'string' },
    'stats-ms': { type: 'string' },
    'log-level': { type: 'string', default: 'info' }
  }, usage, fail)
  if (positionals.length !== 1) fail(`bmc-emulator: needs one CONFIG file\n\n${usage}`)
  const port = integer('port', values.port, 0, 65535) as number
  const count = integer('count', values.count, 1, 10000) as number
  if (port !== 0 && port + count - 1 > 65535) fail(`--count ${count} from --port ${port} runs past port 65535`)
  const delayMs = integer('delay-ms', values['delay-ms'], 0, 60000)
  const statsMs = integer('stats-ms', values['stats-ms'], 100, 3600000)
  let drop: number | undefined
  if (values.drop !== undefined) {
    drop = Number(values.drop)
    if (!Number.isFinite(drop) || drop < 0 || drop > 1) fail(`--drop: not a fraction from 0 to 1: '${values.drop}'`)
  }
  const log = pino({ level: values['log-level'] })
  let fleet: BmcFleet
  try {
    const config = loadBmcEmulatorConfig(positionals[0])
    fleet = await BmcFleet.start(config, { host: values.host, port, count, log: log.child({ component: 'bmc-emulator' }) })
  } catch (err) {
    fail((err as Error).message)
  }
  for (const s of fleet.servers) {
    if (drop !== undefined) s.faults.dropRate = drop
    if (delayMs !== undefined) s.faults.delayMs = delayMs
  }
  const ports = fleet.ports
  // --port 0: every BMC on an ephemeral port, each listed (consecutive ports need only the first and last)
  process.stdout.write(JSON.stringify({ event: 'listening', host: values.host, first_port: ports[0], last_port: ports[ports.length - 1], count, ...(port === 0 ? { ports } : {}) }) + '\n')
  let timer: NodeJS.Timeout | undefined
  if (statsMs !== undefined) {
    let lastCpu = process.cpuUsage()
    let lastAt = performance.now()
    timer = setInterval(() => {
      const cpu = process.cpuUsage()
      const at = performance.now()
      const usedMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000
      const sessions = fleet.sessions
      let active = 0
      let datagrams = 0
      for (const s of fleet.servers) { active += s.activeSessionCount; datagrams += s.counters.datagrams }
      process.stdout.write(JSON.stringify({
        event: 'stats',
        sessions,
        active_sessions: active,
        datagrams,
        // power-ups under way now, the most at once so far, and how many were started (chassis.power_on_delay_ms)
        switching: fleet.switching.switching(),
        max_switching: fleet.switching.max,
        power_ups: fleet.switching.started_total,
        // [start, end] epoch ms of each power-up since the last line: benches merge several processes' (maxOverlap)
        power_up_intervals: fleet.switching.drain(),
        cpu_percent: Math.round(usedMs / (at - lastAt) * 1000) / 10,
        cpu_total_ms: Math.round((cpu.user + cpu.system) / 1000),
        rss_mb: Math.round(process.memoryUsage.rss() / 1048576 * 10) / 10
      }) + '\n')
      lastCpu = cpu
      lastAt = at
    }, statsMs)
  }
  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer)
    fleet.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
