import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { chmodSync, existsSync, renameSync, writeFileSync } from 'node:fs'
import { Type, type Static } from '@sinclair/typebox'
import { ConfigError } from '../drivers/errors.js'
import { firstSchemaError, readJsonFile } from '../config/config-file.js'
import { ROLES, type Role } from './provider.js'

/**
 * The users file of HTTP Basic: JSON, never a plaintext password.
 *
 *   {"users": [{"name": "alice", "role": "operator",
 *               "hash": "scrypt$32768$8$1$<salt, base64>$<key, base64>"}]}
 *
 * hash: scrypt (RFC 7914) with its cost parameters N, r, p and a random
 * 16-byte salt stored with it, so they can be raised later without breaking
 * existing entries. `opendcre user add` writes entries; the file is created
 * with mode 0600.
 */
const USER_NAME_PATTERN = '^[A-Za-z0-9._@-]{1,64}$'
const HASH_PATTERN = '^scrypt\\$\\d+\\$\\d+\\$\\d+\\$[A-Za-z0-9+/]+={0,2}\\$[A-Za-z0-9+/]+={0,2}$'

const UsersFileSchema = Type.Object({
  users: Type.Array(Type.Object({
    name: Type.String({ pattern: USER_NAME_PATTERN, errorMessage: 'must be 1-64 characters of A-Z a-z 0-9 . _ @ -' }),
    role: Type.Union(ROLES.map((r) => Type.Literal(r)), { errorMessage: `must be one of ${ROLES.join(', ')}` }),
    hash: Type.String({ pattern: HASH_PATTERN, errorMessage: 'must be scrypt$N$r$p$salt$key (written by opendcre user add), never a password' })
  }, { additionalProperties: false }))
}, { additionalProperties: false })

type UsersFile = Static<typeof UsersFileSchema>
type UserEntry = UsersFile['users'][number]

/** N = 2^15, r = 8, p = 1: 32 MiB and ~0.1 s per hash on a server core. */
const SCRYPT_DEFAULTS = { N: 32768, r: 8, p: 1 }
const KEY_LENGTH = 32
const SALT_LENGTH = 16

export interface ParsedHash { N: number, r: number, p: number, salt: Buffer, key: Buffer }

export function parseHash (hash: string): ParsedHash | undefined {
  const parts = hash.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined
  const [N, r, p] = parts.slice(1, 4).map(Number)
  const salt = Buffer.from(parts[4], 'base64')
  const key = Buffer.from(parts[5], 'base64')
  // N a power of two above 1; bounds keep a hostile file from asking for gigabytes
  if (!Number.isInteger(N) || N < 2 || N > 2 ** 20 || (N & (N - 1)) !== 0) return undefined
  if (!Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) return undefined
  if (salt.length < 8 || key.length < 16) return undefined
  return { N, r, p, salt, key }
}

function scryptAsync (password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (err, key) => { if (err !== null) reject(err); else resolve(key) })
  })
}

function scryptOptions (h: { N: number, r: number, p: number }): ScryptOptions {
  // scrypt needs 128 * N * r bytes; Node refuses above maxmem (32 MiB by default)
  return { N: h.N, r: h.r, p: h.p, maxmem: 256 * h.N * h.r + 1024 * 1024 }
}

export async function hashPassword (password: string, params = SCRYPT_DEFAULTS): Promise<string> {
  const salt = randomBytes(SALT_LENGTH)
  const key = await scryptAsync(password, salt, KEY_LENGTH, scryptOptions(params))
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

/** Constant-time comparison of the derived key with the stored one. */
export async function verifyPassword (password: string, hash: ParsedHash): Promise<boolean> {
  const key = await scryptAsync(password, hash.salt, hash.key.length, scryptOptions(hash))
  return timingSafeEqual(key, hash.key)
}

/** Read and validate the users file; errors name the file, the field and the reason. */
export function loadUsersFile (file: string): Map<string, { role: Role, hash: ParsedHash }> {
  const value = readJsonFile(file)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(file, '', 'must be a JSON object {"users": [...]}')
  const error = firstSchemaError(UsersFileSchema, value)
  if (error !== undefined) throw new ConfigError(file, error[0], error[1])
  const users = new Map<string, { role: Role, hash: ParsedHash }>()
  ;(value as UsersFile).users.forEach((user, i) => {
    if (users.has(user.name)) throw new ConfigError(file, `users[${i}].name`, `duplicate user '${user.name}'`)
    const hash = parseHash(user.hash)
    if (hash === undefined) throw new ConfigError(file, `users[${i}].hash`, 'scrypt parameters out of range or salt/key too short')
    users.set(user.name, { role: user.role, hash })
  })
  return users
}

/**
 * Add or replace one user (`opendcre user add`): the file is created when
 * missing, written whole to a temporary file and renamed (mode 0600).
 * Returns whether an existing user was replaced.
 */
export async function addUser (file: string, name: string, role: Role, password: string): Promise<{ replaced: boolean, created: boolean }> {
  if (!new RegExp(USER_NAME_PATTERN).test(name)) throw new ConfigError('command line', 'name', `'${name}' must be 1-64 characters of A-Z a-z 0-9 . _ @ -`)
  if (!(ROLES as readonly string[]).includes(role)) throw new ConfigError('command line', 'role', `'${role}' is not one of ${ROLES.join(', ')}`)
  if (password === '') throw new ConfigError('standard input', 'password', 'empty; give the password on one line')
  const created = !existsSync(file)
  let users: UserEntry[] = []
  if (!created) {
    loadUsersFile(file) // refuse to rewrite a file that is not valid
    users = (readJsonFile(file) as UsersFile).users
  }
  const replaced = users.some((u) => u.name === name)
  const entry: UserEntry = { name, role, hash: await hashPassword(password) }
  users = replaced ? users.map((u) => u.name === name ? entry : u) : [...users, entry]
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify({ users }, null, 2) + '\n', { mode: 0o600 })
  chmodSync(tmp, 0o600)
  renameSync(tmp, file)
  return { replaced, created }
}
