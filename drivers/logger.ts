/** The slice of a pino logger the drivers use; pino's Logger satisfies it. */
export interface DriverLogger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  child: (bindings: Record<string, unknown>) => DriverLogger
  /** pino's: lets hot paths skip building hex dumps nobody will see. */
  isLevelEnabled?: (level: string) => boolean
}

/**
 * True when `log` would write at `level`. A logger without the check (Fastify's
 * no-op logger when logging is off) writes nothing, so nothing is built for it.
 */
export function logs (log: DriverLogger, level: 'trace' | 'debug'): boolean {
  return log.isLevelEnabled?.(level) ?? false
}

type LogFn = (obj: unknown, msg?: string, ...args: unknown[]) => void

const noop: LogFn = () => {}

export const silentLogger: DriverLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
  isLevelEnabled: () => false
}
