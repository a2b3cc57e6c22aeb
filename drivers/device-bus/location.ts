/** Chassis location from a device id (docs/protocol.md §6): no bus traffic. */
import type { ChassisLocation, PhysicalLocation } from '../bus.js'

export const UNKNOWN_PHYSICAL_LOCATION: PhysicalLocation = Object.freeze({
  depth: 'unknown',
  horizontal: 'unknown',
  vertical: 'unknown'
})

function pair (id: number, firstBit: number, secondBit: number, first: string, second: string): string {
  const a = ((id >> firstBit) & 1) === 1
  const b = ((id >> secondBit) & 1) === 1
  if (a && b) return 'middle'
  if (a) return first
  if (b) return second
  return 'unknown'
}

export function chassisLocation (deviceId: number): ChassisLocation {
  if (((deviceId >> 15) & 1) === 1) {
    return { depth: 'unknown', horiz_pos: 'unknown', vert_pos: 'unknown', server_node: (deviceId >> 8) & 0x1f }
  }
  return {
    depth: pair(deviceId, 14, 13, 'front', 'rear'),
    horiz_pos: pair(deviceId, 12, 11, 'left', 'right'),
    vert_pos: pair(deviceId, 10, 9, 'top', 'bottom'),
    server_node: 'unknown'
  }
}
