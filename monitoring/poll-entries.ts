import type { BoardEvent } from '../drivers/events.js'
import type { PollOperation } from './poll-config.js'
import type { BoardState, SensorState } from './sensor-state.js'

/** Small pieces of the poller (monitoring/poller.ts), apart to keep it under the house's 500 lines. */

/** The key a device transaction is shared under while in flight. */
export function fetchKey (operation: PollOperation, boardId: number, deviceId: number, deviceType: string): string {
  return `${operation}:${boardId}:${deviceId}:${deviceType}`
}

/** A handler that drops what it is given (a failure already recorded). */
export function ignore (): void {}

/** A sensor name as compared with a log entry's: case, spaces and punctuation aside ("CPU1 Temp" = "CPU1Temp"). */
function nameKey (name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '')
}

/** The board's polled sensor a log entry names: by device id (IPMI SEL), else by its name (Redfish); undefined when none or several. */
export function sensorNamedBy (board: BoardState, entry: BoardEvent): SensorState | undefined {
  const { device_id: deviceId, sensor: name } = entry
  const reads = board.sensors.filter((s) => s.operation === 'read')
  if (deviceId !== undefined) return reads.find((s) => s.device_id === deviceId.toLowerCase())
  if (name === undefined || name === '') return undefined
  const key = nameKey(name)
  const named = reads.filter((s) => s.device_info !== undefined && nameKey(s.device_info) === key)
  return named.length === 1 ? named[0] : undefined
}
