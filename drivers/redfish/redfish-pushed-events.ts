import { deviceIdHex, type PushedEvents } from '../bus.js'
import type { BoardEvent } from '../events.js'
import type { RedfishEventStream } from './redfish-event-stream.js'
import type { RedfishBoard } from './redfish-discovery.js'

/**
 * One board's share of its service's event stream: a record whose
 * OriginOfCondition lies under the board's system or one of its chassis
 * is that board's; one about neither (the manager, the service) is every
 * board's, as the manager's LogService is listed with each board's events.
 */
export function watchBoardEvents (
  stream: RedfishEventStream,
  boards: () => readonly RedfishBoard[],
  slot: number,
  onEvents: (events: BoardEvent[], linked: boolean) => void
): PushedEvents {
  const unsubscribe = stream.subscribe((events) => {
    const all = boards()
    const mine = events.filter((e) => {
      if (e.origin === undefined) return true
      const owner = all.find((b) => under(e.origin as string, b.system) || b.chassis.some((c) => under(e.origin as string, c)))
      return owner === undefined || owner.slot === slot
    })
    if (mine.length === 0) return
    const board = all.find((b) => b.slot === slot)
    onEvents(mine.map((e) => withSensor(e.entry, board, e.origin)), mine.every((e) => e.linked))
  })
  return {
    get state () { return stream.state },
    close: unsubscribe
  }
}

/** The entry with the board's sensor its OriginOfCondition is (by @odata.id) as its device_id, if any. */
export function withSensor (entry: BoardEvent, board: RedfishBoard | undefined, origin: string | undefined): BoardEvent {
  if (origin === undefined || board === undefined) return entry
  const uri = origin.replace(/\/$/, '')
  const sensor = board.sensors.find((s) => s.key.replace(/\/$/, '') === uri)
  return sensor === undefined ? entry : { ...entry, device_id: deviceIdHex(sensor.deviceId) }
}

function under (uri: string, base: string | undefined): boolean {
  if (base === undefined) return false
  const b = base.replace(/\/$/, '')
  return uri === b || uri.startsWith(`${b}/`) || uri.startsWith(`${b}#`)
}
