import { stringify } from 'lossless-json'
import type { Poller } from './poller.js'
import type { BoardState, SensorState } from './sensor-state.js'
import { alertEvent, type Alert } from './alerts.js'

/**
 * Server-Sent Events from the poller (GET /stream): the event texts and the
 * hub that feeds every client from one subscription.
 */
/** A comment line every this often keeps proxies from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000
/** A client whose unsent events pass this many bytes is too slow: it is dropped. */
const MAX_CLIENT_BUFFER = 1024 * 1024

/** The `data:` of a reading event (docs/monitoring.md). */
function readingEvent (sensor: SensorState, now: number): string {
  const timestamp = sensor.readAt ?? now
  return `event: reading\ndata: ${stringify({
    board_id: sensor.board_id,
    device_id: sensor.device_id,
    device_type: sensor.device_type,
    device_info: sensor.device_info ?? '',
    backend: sensor.board.backend,
    reading: sensor.reading,
    timestamp: new Date(timestamp).toISOString(),
    age_seconds: Math.max(0, Math.round(now - timestamp) / 1000)
  }) ?? '{}'}\n\n`
}

function boardEvent (board: BoardState): string {
  return `event: board\ndata: ${JSON.stringify({
    board_id: board.board_id,
    backend: board.backend,
    up: board.up === true,
    last_contact: board.lastContact === undefined ? null : new Date(board.lastContact).toISOString()
  })}\n\n`
}

/** What the hub needs of a client's connection (node:http's ServerResponse has it). */
export interface EventSink {
  readonly writableLength: number
  readonly destroyed: boolean
  write: (text: string) => unknown
  end: () => unknown
  destroy: () => unknown
  on: (event: 'close', listener: () => void) => unknown
}

interface StreamClient {
  res: EventSink
  /** The client's address: streams are capped per address. */
  address: string
  /** Only these boards / devices (ids as the API writes them); undefined: all. */
  boards: Set<string> | undefined
  devices: Set<string> | undefined
}

interface StreamHubOptions {
  keepAliveMs?: number
  maxClientBuffer?: number
  /** Open streams in all (default 256). */
  maxStreams?: number
  /** Open streams from one address (default 8): well below its connection cap, so its other requests still pass. */
  maxStreamsPerClient?: number
}

/**
 * Every stream client of one app, fed by one subscription to the poller:
 * each event is serialized once, whatever the number of clients, and
 * clients only ever read the poller (no hardware traffic of their own).
 */
export class StreamHub {
  private readonly clients = new Set<StreamClient>()
  private timer: ReturnType<typeof setInterval> | undefined
  private readonly keepAliveMs: number
  private readonly maxClientBuffer: number
  private readonly maxStreams: number
  private readonly maxStreamsPerClient: number
  private readonly perAddress = new Map<string, number>()

  constructor (private readonly poller: Poller, options: StreamHubOptions = {}) {
    this.keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS
    this.maxClientBuffer = options.maxClientBuffer ?? MAX_CLIENT_BUFFER
    this.maxStreams = options.maxStreams ?? 256
    this.maxStreamsPerClient = options.maxStreamsPerClient ?? 8
    poller.on('reading', (sensor: SensorState) => {
      if (this.clients.size === 0) return
      const text = readingEvent(sensor, poller.now())
      for (const client of this.clients) if (wants(client, sensor.board_id, sensor.device_id)) this.send(client, text)
    })
    poller.on('alert', (alert: Alert) => {
      if (this.clients.size === 0) return
      const text = alertEvent(alert)
      const device = alert.kind === 'threshold' ? alert.device_id : undefined
      for (const client of this.clients) {
        if ((client.boards === undefined || client.boards.has(alert.board_id)) && (device === undefined || client.devices === undefined || client.devices.has(device))) this.send(client, text)
      }
    })
    poller.on('board', (board: BoardState) => {
      if (this.clients.size === 0) return
      const text = boardEvent(board)
      for (const client of this.clients) if (client.boards === undefined || client.boards.has(board.board_id)) this.send(client, text)
    })
  }

  /** Why a new stream from this address is refused (a cap is reached), or undefined when it may open. */
  refusal (address: string): string | undefined {
    if (this.clients.size >= this.maxStreams) return `too many event streams (${this.maxStreams}): try again later`
    if ((this.perAddress.get(address) ?? 0) >= this.maxStreamsPerClient) return `too many event streams from one address (${this.maxStreamsPerClient}): close one, or try again later`
    return undefined
  }

  add (client: StreamClient): void {
    this.clients.add(client)
    this.perAddress.set(client.address, (this.perAddress.get(client.address) ?? 0) + 1)
    let counted = true
    client.res.on('close', () => {
      this.clients.delete(client)
      if (!counted) return
      counted = false
      const left = (this.perAddress.get(client.address) ?? 1) - 1
      if (left <= 0) this.perAddress.delete(client.address)
      else this.perAddress.set(client.address, left)
    })
    if (this.timer === undefined) {
      this.timer = setInterval(() => { for (const c of this.clients) this.send(c, ': keep-alive\n\n') }, this.keepAliveMs)
      this.timer.unref()
    }
    const now = this.poller.now()
    for (const board of this.poller.allBoards()) {
      if (board.up !== undefined && (client.boards === undefined || client.boards.has(board.board_id))) this.send(client, boardEvent(board))
    }
    for (const sensor of this.poller.allSensors()) {
      if (sensor.readAt !== undefined && wants(client, sensor.board_id, sensor.device_id)) this.send(client, readingEvent(sensor, now))
    }
  }

  /** An event for every client, whatever its filters (a bulk power task's progress). */
  publish (text: string): void {
    for (const client of this.clients) this.send(client, text)
  }

  private send (client: StreamClient, text: string): void {
    const res = client.res
    if (res.destroyed) return
    if (res.writableLength > this.maxClientBuffer) {
      // too slow to keep up: dropped rather than buffered without bound
      this.clients.delete(client)
      res.destroy()
      return
    }
    res.write(text)
  }

  get size (): number {
    return this.clients.size
  }

  close (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    for (const client of this.clients) client.res.end()
    this.clients.clear()
  }
}

function wants (client: StreamClient, board: string, device: string): boolean {
  return (client.boards === undefined || client.boards.has(board)) && (client.devices === undefined || client.devices.has(device))
}
