/** Helpers shared by the codec files of this folder; not part of its exports. */
import { IpmiError } from '../types.js'

export function hex8 (n: number): string {
  return n.toString(16).padStart(2, '0')
}

export function protocol (message: string): IpmiError {
  return new IpmiError('protocol', message)
}
