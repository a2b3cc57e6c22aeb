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

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error'

/**
 * A logger that writes its bindings into each line through its parent, in
 * place of a pino child for what is kept per BMC: a pino child serialises
 * its bindings and copies its parent's settings, ~1.4 KB each, and the
 * bridge made two a BMC (2.8 KB a BMC, 14 MB at 5,000 BMCs); this keeps the
 * parent and one bindings object. A line has the fields a child's would, in
 * the same order (a child of a child naming a field again writes it once,
 * with the same value); an Error logged alone goes under `err` with its
 * message as the line's, as pino does.
 */
export class BoundLogger implements DriverLogger {
  constructor (private readonly parent: DriverLogger, private readonly bindings: Record<string, unknown>) {}

  trace (obj: unknown, msg?: string, ...args: unknown[]): void { this.write('trace', obj, msg, args) }
  debug (obj: unknown, msg?: string, ...args: unknown[]): void { this.write('debug', obj, msg, args) }
  info (obj: unknown, msg?: string, ...args: unknown[]): void { this.write('info', obj, msg, args) }
  warn (obj: unknown, msg?: string, ...args: unknown[]): void { this.write('warn', obj, msg, args) }
  error (obj: unknown, msg?: string, ...args: unknown[]): void { this.write('error', obj, msg, args) }

  child (bindings: Record<string, unknown>): DriverLogger {
    return new BoundLogger(this.parent, { ...this.bindings, ...bindings })
  }

  isLevelEnabled (level: string): boolean {
    return this.parent.isLevelEnabled?.(level) ?? false
  }

  private write (level: Level, obj: unknown, msg: string | undefined, args: unknown[]): void {
    const parent = this.parent
    // nothing built for a line nobody will see
    if (parent.isLevelEnabled?.(level) === false) return
    if (obj instanceof Error) parent[level]({ ...this.bindings, err: obj }, msg ?? obj.message, ...args)
    else if (obj !== null && typeof obj === 'object') parent[level]({ ...this.bindings, ...obj }, msg, ...args)
    else if (msg === undefined) parent[level](this.bindings, obj as string, ...args)
    else parent[level](this.bindings, obj as string, msg, ...args)
  }
}
