import type { IncomingMessage, ServerResponse } from 'node:http'
import { Server as NetServer, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import fp from 'fastify-plugin'

interface DrainOptions {
  /** Close the listener once no connection has arrived for this long (ms) ... */
  quietMs?: number
  /** ... or after this long at most (ms), whatever still arrives. */
  maxMs?: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Stop without resetting anyone (SIGTERM): see plugins/graceful-close.ts.
     * Resolves once the listener, every connection and the app are closed.
     */
    drainAndClose: (options?: DrainOptions) => Promise<void>
  }
}

export interface GracefulCloseOptions {
  /**
   * Drain (steps 1-3 below) on any fastify.close() of a listening server, not
   * only on drainAndClose(): fastify-cli's SIGTERM handler calls close().
   */
  drainOnClose?: boolean
}

const SHUTTING_DOWN = JSON.stringify({ message: 'the service is shutting down' })

/** The answer to any request that arrives once the drain has begun: complete, and the connection ends after it. */
function refuse (response: ServerResponse): void {
  response.writeHead(503, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(SHUTTING_DOWN),
    connection: 'close'
  })
  response.end(SHUTTING_DOWN)
}

/** Waits until `done()` or `limitMs`, checking every few ms. */
async function until (done: () => boolean, limitMs: number): Promise<void> {
  const end = performance.now() + limitMs
  while (!done() && performance.now() < end) await sleep(5)
}

/**
 * A stop where every client gets a complete answer or a refused connection,
 * never a reset. Two things reset clients: closing a listening socket resets
 * the connections the kernel has completed for it but the process has not
 * accepted yet (its accept queue), and destroying a socket resets a request
 * already on its way. So:
 *
 * 1. Every new request, on a new connection or a kept-alive one, is answered
 *    503 with `Connection: close` (by Node, before routing: nothing is paid
 *    for this per request in normal running); requests in flight finish.
 * 2. The listener stays open, accepting and answering so, until no
 *    connection has arrived for quietMs (clients told 503 go away), at most
 *    maxMs.
 * 3. For the last moments, 503s are held back instead of sent: a client that
 *    keeps reconnecting is then waiting for its answer, not connecting, so
 *    the accept queue is empty when the listener closes. Then the held
 *    answers go out; the next connections are refused.
 * 4. Connections accepted during the drain get their request answered (503);
 *    then Fastify's close: idle keep-alive sockets are closed, in-flight
 *    requests and their bus transactions finish, the backends close.
 */
export default fp<GracefulCloseOptions>(async (fastify, opts) => {
  const server = fastify.server
  let lastConnection = 0
  let closing: Promise<void> | undefined
  /** Connections accepted since the drain began that have sent no request yet. */
  const unanswered = new Set<Socket>()
  let draining = false
  server.on('connection', (socket: Socket) => {
    lastConnection = performance.now()
    if (draining) {
      unanswered.add(socket)
      socket.once('close', () => unanswered.delete(socket))
    }
  })

  async function drain ({ quietMs = 200, maxMs = 3000 }: DrainOptions, close = true): Promise<void> {
    let held: ServerResponse[] | undefined
    draining = true
    server.removeAllListeners('request')
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      unanswered.delete(request.socket)
      if (held !== undefined) held.push(response)
      else refuse(response)
    })
    const started = performance.now()
    lastConnection = Math.max(lastConnection, started)
    await until(() => performance.now() - lastConnection >= quietMs, maxMs)

    held = []
    const holdUntil = performance.now() + 500
    for (;;) {
      await until(() => performance.now() - lastConnection >= 20, holdUntil - performance.now())
      // A loop that stalled (a loaded machine) may have connections completed
      // in the kernel but not yet accepted: one turn of the loop's poll phase
      // accepts them, so the listener closes on an empty accept queue.
      const seen = lastConnection
      await new Promise((resolve) => setImmediate(resolve))
      if (lastConnection === seen || performance.now() >= holdUntil) break
    }
    // the listening socket only: http.Server.close would also destroy the connections just accepted
    NetServer.prototype.close.call(server)
    for (const response of held) refuse(response)
    held = undefined

    // a connection accepted is answered once its request comes (bounded: a loaded machine's client may be slow to send it)
    await until(() => unanswered.size === 0, 3000)
    if (close) await fastify.close()
  }

  fastify.decorate('drainAndClose', async (options: DrainOptions = {}) => {
    closing ??= drain(options)
    await closing
  })

  if (opts.drainOnClose === true) {
    // Fastify's close() runs this first, then closes what is left (a no-op for the listener drained here)
    fastify.addHook('preClose', async () => {
      if (closing !== undefined || !server.listening) return
      closing = drain({}, false)
      await closing
    })
  }
}, { name: 'graceful-close', fastify: '5.x' })
