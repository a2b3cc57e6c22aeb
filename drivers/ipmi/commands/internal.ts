/** Helpers of the command files; not part of the folder's exports. */
import { IpmiError } from '../types.js'
import type { ChunkState } from './common.js'

export function need (data: Uint8Array, min: number, what: string): void {
  if (data.length < min) {
    throw new IpmiError('protocol', `${what}: response of ${data.length} byte(s), at least ${min} expected`)
  }
}

const MIN_CHUNK = 1

export function shrink (state: ChunkState, asked: number): boolean {
  if (asked <= MIN_CHUNK) return false
  state.chunk = Math.max(MIN_CHUNK, Math.min(state.chunk, Math.floor(asked / 2)))
  return true
}
