/**
 * The one home for reading configuration files: every backend's loader, the
 * service's opendcre_config.json, the users file and the emulators read,
 * parse, validate and report through these, so every broken file is reported
 * alike (the file, the field, the reason; never the file's text).
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs'
import type { TSchema } from '@sinclair/typebox'
import { Value, ValueErrorType } from '@sinclair/typebox/value'
import { isSafeNumber, parse as parseLossless } from 'lossless-json'
import { ConfigError } from '../drivers/errors.js'

/** No configuration file of ours comes near this; /dev/zero and its kind would never end. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024

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
function jsonErrorPlace (text: string, err: unknown): string {
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

/**
 * Read and parse a JSON configuration file; errors name the file and the
 * reason. `parse` defaults to JSON.parse.
 */
export function readJsonFile (file: string, parse: (text: string) => unknown = JSON.parse): unknown {
  const text = readConfigFile(file).toString('utf8')
  try {
    return parse(text)
  } catch (err) {
    // never the parser's own words: they quote the file (passwords, hashes)
    const place = jsonErrorPlace(text, err)
    throw new ConfigError(file, '', `invalid JSON${place === '' ? '' : ` ${place}`} (the text is not quoted)`)
  }
}

/** JSON pointer (/boards/1/devices/3/device_id) -> boards[1].devices[3].device_id */
export function jsonPath (pointer: string): string {
  return pointer.split('/').slice(1).reduce((out, part) => {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~')
    return /^\d+$/.test(key) ? `${out}[${key}]` : out === '' ? key : `${out}.${key}`
  }, '')
}

/** The most specific schema error, as [path, reason]. */
export function firstSchemaError (schema: TSchema, value: unknown): [string, string] | undefined {
  let best: [string, string] | undefined
  let bestDepth = -1
  for (const error of Value.Errors(schema, value)) {
    const depth = error.path.split('/').length
    // a union reports itself, not its members: prefer the deepest error, then the first
    if (depth > bestDepth) {
      const custom = (error.schema as { errorMessage?: string }).errorMessage
      const reason = error.type === ValueErrorType.ObjectRequiredProperty
        ? 'missing required field'
        : custom ?? error.message.toLowerCase()
      best = [jsonPath(error.path), reason]
      bestDepth = depth
    }
  }
  return best
}

/** Parse JSON keeping integers past 2^53 exact (bigint), so they are sent digit for digit. */
export function parseJsonLossless (text: string): unknown {
  return parseLossless(text, null, (value: string) => {
    if (isSafeNumber(value)) return Number(value)
    return /^-?\d+$/.test(value) ? BigInt(value) : Number(value)
  })
}
