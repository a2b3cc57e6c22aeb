import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { OverloadedError } from '../drivers/errors.js'
import { StreamHub } from '../monitoring/stream-hub.js'
import { taskEvent } from '../monitoring/power-tasks.js'
import { boardIdHex, deviceIdHex } from '../drivers/bus.js'
import { parseBoardId, parseDeviceId } from '../schemas/params.js'
import { responses } from '../schemas/responses.js'

const StreamQuery = Type.Object({
  board_id: Type.Optional(Type.String({ maxLength: 4096, description: 'Only these boards: a comma-separated list of board ids' })),
  device_id: Type.Optional(Type.String({ maxLength: 4096, description: 'Only these devices: a comma-separated list of device ids' }))
})

/** A refused stream may try again after this long (seconds). */
const STREAM_RETRY_AFTER_S = 5

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
  const { maxStreams, maxStreamsPerClient } = fastify.config.limits
  const hub = new StreamHub(fastify.poller, { maxStreams, maxStreamsPerClient })
  fastify.addHook('preClose', async () => { hub.close() })
  // bulk power tasks' progress, as its own event kind
  fastify.powerTasks.on('task', (task, board) => { if (hub.size > 0) hub.publish(taskEvent(task, board)) })

  fastify.get('/stream', {
    config: { command: 'stream', changesState: () => false },
    schema: {
      summary: 'Live readings as Server-Sent Events (text/event-stream)',
      description: 'Events `reading` (a device\'s new value, as the read, power or LED command answers it, with its timestamp and age) and ' +
        '`board` (a board\'s up state), `alert` (a sensor whose state changed against its thresholds, or a new entry of a board\'s event log; docs/monitoring.md), `task` (a bulk power task\'s totals and the board that changed); `: keep-alive` comments every 15 s. Readings come from the shared poller: clients add no hardware traffic.',
      tags: ['stream'],
      querystring: StreamQuery,
      produces: ['text/event-stream'],
      response: responses(Type.String({ description: 'text/event-stream' }))
    },
    handler: async (request, reply) => {
      // per address and in all (docs/hardening.md): refused before anything is held
      const refusal = hub.refusal(request.ip)
      if (refusal !== undefined) throw new OverloadedError(refusal, STREAM_RETRY_AFTER_S)
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
      hub.add({ res, address: request.ip, boards, devices })
      // the server keeps half-open sockets (server.ts): a stream client that closes its side is gone, and its place is freed now, not at the next write
      request.raw.socket.once('end', () => res.destroy())
    }
  })
}

export default route
