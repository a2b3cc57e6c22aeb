import type { PushedEvents } from '../bus.js'
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
    if (mine.length > 0) onEvents(mine.map((e) => e.entry), mine.every((e) => e.linked))
  })
  return {
    get state () { return stream.state },
    close: unsubscribe
  }
}

function under (uri: string, base: string | undefined): boolean {
  if (base === undefined) return false
  const b = base.replace(/\/$/, '')
  return uri === b || uri.startsWith(`${b}/`) || uri.startsWith(`${b}#`)
}
