import type { Bus } from '../../drivers/bus.js'
import { HistoryRing } from '../../monitoring/history-ring.js'
import type { BoardState, SensorState } from '../../monitoring/sensor-state.js'

/** A polled board as the poller keeps it, for tests of what is written from it (no bus behind it). */
export function fakeBoard (boardId: string, backend: string, up: boolean | undefined): BoardState {
  const bus = {} as unknown as Bus
  return { board_id: boardId, boardId: Number.parseInt(boardId, 16), backend, bus, sensors: [], up, lastContact: undefined, inventoryDue: Infinity, phase: 0, busy: false, timer: undefined }
}

/** A sensor of `b` with its latest reading, as the poller keeps it; added to the board's sensors. */
export function fakeSensor (b: BoardState, deviceId: string, type: string, info: string | undefined,
  reading: unknown, readAt: number | undefined, historySize = 4): SensorState {
  const s: SensorState = {
    board: b,
    boardId: b.boardId,
    deviceId: Number.parseInt(deviceId, 16),
    board_id: b.board_id,
    device_id: deviceId,
    device_type: type,
    device_info: info,
    operation: 'read',
    intervalMs: 15_000,
    reading,
    readAt,
    error: undefined,
    errorAt: undefined,
    nextDue: Infinity,
    history: new HistoryRing(historySize)
  }
  b.sensors.push(s)
  return s
}
