import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { ConfigError } from '../drivers/errors.js'

/**
 * The log directory, made if missing, or a ConfigError naming it and the
 * reason. Made one level at a time: Node's recursive mkdir never returns
 * for a path under /proc.
 */
export function prepareLogDir (dir: string): void {
  const missing: string[] = []
  let at = resolve(dir)
  for (;;) {
    try {
      if (!statSync(at).isDirectory()) throw new ConfigError(dir, '--log-dir', `${at} is not a directory`)
      break
    } catch (err) {
      if (err instanceof ConfigError) throw err
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' || dirname(at) === at) throw new ConfigError(dir, '--log-dir', `cannot use ${at} (${code ?? (err as Error).message})`)
      missing.unshift(at)
      at = dirname(at)
    }
  }
  for (const path of missing) {
    try {
      mkdirSync(path)
    } catch (err) {
      throw new ConfigError(dir, '--log-dir', `cannot make ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
    }
  }
  try {
    accessSync(dir, constants.W_OK)
  } catch (err) {
    throw new ConfigError(dir, '--log-dir', `not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
}
