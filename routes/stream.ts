import type { ServerResponse } from 'node:http'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { stringify } from 'lossless-json'
import type { BoardState, Poller, SensorState } from '../drivers/poller/poller.js'
import { boardIdHex, deviceIdHex } from '../drivers/bus.js'
import { parseBoardId, parseDeviceId } from '../schemas/params.js'
import { responses } from '../schemas/responses.js'

/** A comment line every this often keeps proxies from closing an idle stream. */
export const KEEP_ALIVE_MS = 15_000
/** A client whose unsent events pass this many bytes is too slow: it is dropped. */
export const MAX_CLIENT_BUFFER = 1024 * 1024

const StreamQuery = Type.Object({
  board_id: Type.Optional(Type.String({ maxLength: 4096, description: 'Only these boards: a comma-separated list of board ids' })),
  device_id: Type.Optional(Type.String({ maxLength: 4096, description: 'Only these devices: a comma-separated list of device ids' }))
})

/** The `data:` of a reading event (docs/monitoring.md). */
export function readingEvent (sensor: SensorState, now: number): string {
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

export function boardEvent (board: BoardState): string {
  return `event: board\ndata: ${JSON.stringify({
    board_id: board.board_id,
    backend: board.backend,
    up: board.up === true,
    last_contact: board.lastContact === undefined ? null : new Date(board.lastContact).toISOString()
  })}\n\n`
}

interface Client {
  res: ServerResponse
  boards: Set<string> | undefined
  devices: Set<string> | undefined
}

/**
 * Every stream client of one app, fed by one subscription to the poller:
 * each event is serialized once, whatever the number of clients, and
 * clients only ever read the poller (no hardware traffic of their own).
 */
class StreamHub {
  private readonly clients = new Set<Client>()
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (private readonly poller: Poller) {
    poller.on('reading', (sensor: SensorState) => {
      if (this.clients.size === 0) return
      const text = readingEvent(sensor, poller.now())
      for (const client of this.clients) if (wants(client, sensor.board_id, sensor.device_id)) this.send(client, text)
    })
    poller.on('board', (board: BoardState) => {
      if (this.clients.size === 0) return
      const text = boardEvent(board)
      for (const client of this.clients) if (client.boards === undefined || client.boards.has(board.board_id)) this.send(client, text)
    })
  }

  add (client: Client): void {
    this.clients.add(client)
    client.res.on('close', () => this.clients.delete(client))
    if (this.timer === undefined) {
      this.timer = setInterval(() => { for (const c of this.clients) this.send(c, ': keep-alive\n\n') }, KEEP_ALIVE_MS)
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

  private send (client: Client, text: string): void {
    const res = client.res
    if (res.destroyed) return
    if (res.writableLength > MAX_CLIENT_BUFFER) {
      // too slow to keep up: dropped rather than buffered without bound
      this.clients.delete(client)
      res.destroy()
      return
    }
    res.write(text)
  }

  close (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    for (const client of this.clients) client.res.end()
    this.clients.clear()
  }
}

function wants (client: Client, board: string, device: string): boolean {
  return (client.boards === undefined || client.boards.has(board)) && (client.devices === undefined || client.devices.has(device))
}

function idList (text: string | undefined, parse: (id: string) => string): Set<string> | undefined {
  if (text === undefined || text === '') return undefined
  return new Set(text.split(',').map((id) => parse(id.trim())))
}

/**
 * GET <prefix>/1.2/stream: Server-Sent Events from the shared poller. On
 * connect, one `board` event per known board and one `reading` event per
 * known value; then one per change. Optional filters board_id and
 * device_id (comma-separated lists).
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const hub = new StreamHub(fastify.poller)
  fastify.addHook('preClose', async () => { hub.close() })

  fastify.get('/stream', {
    config: { command: 'stream', changesState: () => false },
    schema: {
      summary: 'Live readings as Server-Sent Events (text/event-stream)',
      description: 'Events `reading` (a device\'s new value, as the read, power or LED command answers it, with its timestamp and age) and ' +
        '`board` (a board\'s up state); `: keep-alive` comments every 15 s. Readings come from the shared poller: clients add no hardware traffic.',
      tags: ['stream'],
      querystring: StreamQuery,
      produces: ['text/event-stream'],
      response: responses(Type.String({ description: 'text/event-stream' }))
    },
    handler: async (request, reply) => {
      const boards = idList(request.query.board_id, (id) => boardIdHex(parseBoardId(id)))
      const devices = idList(request.query.device_id, (id) => deviceIdHex(parseDeviceId(id)))
      const res = reply.raw
      reply.hijack()
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no'
      })
      res.write(': stream of readings\n\n')
      hub.add({ res, boards, devices })
    }
  })
}

export default route
