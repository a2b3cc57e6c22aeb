/** The slice of a pino logger the drivers use; pino's Logger satisfies it. */
export interface DriverLogger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  child: (bindings: Record<string, unknown>) => DriverLogger
}

type LogFn = (obj: unknown, msg?: string, ...args: unknown[]) => void

const noop: LogFn = () => {}

export const silentLogger: DriverLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger
}
