import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs'
import { ConfigError } from './errors.js'

/** No configuration file of ours comes near this; /dev/zero and its kind would never end. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024

function kindOf (stats: import('node:fs').Stats): string {
  if (stats.isDirectory()) return 'a directory'
  if (stats.isFIFO()) return 'a FIFO'
  if (stats.isCharacterDevice()) return 'a character device'
  if (stats.isBlockDevice()) return 'a block device'
  if (stats.isSocket()) return 'a socket'
  return 'not a regular file'
}

/**
 * A configuration file's bytes, or a ConfigError naming the file, `field`
 * and the reason. Only a regular file of sane size is read: the file is
 * opened without blocking (a FIFO would wait for a writer forever) and
 * checked before a byte is read (a directory, /dev/zero, a socket).
 */
export function readConfigFile (file: string, field = ''): Buffer {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    throw new ConfigError(file, field, `cannot read file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  try {
    const stats = fstatSync(fd)
    if (!stats.isFile()) throw new ConfigError(file, field, `cannot read file: ${kindOf(stats)}, not a regular file`)
    if (stats.size > MAX_CONFIG_BYTES) throw new ConfigError(file, field, `cannot read file: larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MB`)
    return readFileSync(fd)
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError(file, field, `cannot read file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  } finally {
    closeSync(fd)
  }
}

/**
 * Where a JSON parser failed, as "line L, column C", and nothing else: its
 * own messages quote the text around the fault, which may be a password or a
 * password hash.
 */
export function jsonErrorPlace (text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : ''
  const lineColumn = /line (\d+),? column (\d+)/i.exec(message)
  if (lineColumn !== null) return `at line ${lineColumn[1]}, column ${lineColumn[2]}`
  const position = /position (\d+)/i.exec(message)
  if (position === null) return /end of (the )?(JSON )?(input|data)/i.test(message) ? 'at the end of the file' : ''
  const before = text.slice(0, Number(position[1]))
  const line = before.split('\n').length
  const column = before.length - before.lastIndexOf('\n')
  return `at line ${line}, column ${column}`
}
