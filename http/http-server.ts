import http from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'

/** How long a connection and a request may take, and how many connections there may be. */
export interface HttpLimits {
  /** Open connections in all; more are answered 503 and closed at once. */
  maxConnections: number
  /** Open connections from one client address; more are answered 503 and closed at once. */
  maxConnectionsPerClient: number
  /** The request line and headers must arrive within this (ms). */
  headersTimeoutMs: number
  /** The whole request, headers and body, must arrive within this (ms). */
  requestTimeoutMs: number
  /** An idle keep-alive connection is closed after this (ms). */
  keepAliveTimeoutMs: number
  /** A connection is closed after this many requests (0: no limit). */
  maxRequestsPerSocket: number
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: 1024,
  maxConnectionsPerClient: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 10_000
}

/** The API's error form for an answer written on the raw socket. */
function rawAnswer (status: number, message: string, extra = ''): string {
  const body = JSON.stringify({ message })
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`
}

/**
 * Node's HTTP parser's refusals (malformed request, headers too large, a
 * request that did not arrive in time) in the API's {"message": ...} form,
 * never echoing what the client sent. Passed to Fastify as clientErrorHandler.
 */
export function clientErrorHandler (err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'request headers too large']
        : err.code === 'HPE_URI_TOO_LONG'
          ? [414, 'URL too long']
          : [400, 'malformed HTTP request']
  // an answer already under way on this connection cannot be followed by another
  // (a request whose body is late has its answer object, but nothing sent yet)
  const busy = (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage?.headersSent === true
  if (!socket.writable || busy) {
    socket.destroy()
    return
  }
  socket.end(rawAnswer(status, message))
  setTimeout(() => socket.destroy(), 1000).unref()
}

const TOO_MANY = rawAnswer(503, 'too many connections: try again later', 'Retry-After: 1\r\n')

/**
 * The HTTP (or HTTPS) server `opendcre serve` gives Fastify (its
 * serverFactory): Node's own timeouts for headers, whole requests and idle
 * keep-alive connections, set when the server is made, with how often Node
 * looks for requests past their time (connectionsCheckingInterval, which only
 * the constructor takes: Node's default is every 30 s). The connection caps
 * and everything else that can be set on a running server are applied by
 * plugins/http-limits.ts, on whichever server the app is given.
 */
export function createHttpServer (handler: http.RequestListener, limits: HttpLimits, tls?: https.ServerOptions): http.Server {
  const options: http.ServerOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // how often Node looks for requests past their time: well within the shortest bound
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)))
  }
  return tls !== undefined ? https.createServer({ ...tls, ...options }, handler) : http.createServer(options, handler)
}

/**
 * Bounds a server, made by us or by fastify-cli, before it listens: Node's
 * timeouts for headers, whole requests and idle keep-alive connections, and
 * a cap on open connections, in all and per client address. A connection
 * over a cap gets one 503 {"message"} answer on plain HTTP (over TLS, where
 * nothing can be said before a handshake, it is closed) and never reaches
 * the HTTP parser, so it costs one file descriptor for a moment.
 */
export function limitServer (server: http.Server, limits: HttpLimits, onRefused?: (address: string, reason: string) => void): void {
  const tls = server instanceof https.Server
  server.headersTimeout = limits.headersTimeoutMs
  server.requestTimeout = limits.requestTimeoutMs
  server.keepAliveTimeout = limits.keepAliveTimeoutMs
  if (limits.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = limits.maxRequestsPerSocket

  // every accepted connection goes through the cap before Node's own listeners see it
  const accept = server.listeners('connection') as Array<(socket: Socket) => void>
  server.removeAllListeners('connection')
  let open = 0
  const perClient = new Map<string, number>()
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? ''
    const mine = perClient.get(address) ?? 0
    const reason = open >= limits.maxConnections
      ? `more than ${limits.maxConnections} connections`
      : mine >= limits.maxConnectionsPerClient ? `more than ${limits.maxConnectionsPerClient} connections from one address` : undefined
    if (reason !== undefined) {
      onRefused?.(address, reason)
      refuse(socket, tls)
      return
    }
    open++
    perClient.set(address, mine + 1)
    socket.once('close', () => {
      open--
      const left = (perClient.get(address) ?? 1) - 1
      if (left <= 0) perClient.delete(address)
      else perClient.set(address, left)
    })
    for (const listener of accept) listener.call(server, socket)
  })
}

function refuse (socket: Socket, tls: boolean): void {
  socket.on('error', () => {})
  if (tls) {
    socket.destroy()
    return
  }
  // answer, drain what the client sends (closing on unread data would reset the answer away), then close
  socket.resume()
  socket.end(TOO_MANY, () => setTimeout(() => socket.destroy(), 100).unref())
  setTimeout(() => socket.destroy(), 1000).unref()
}

/** Refused connections, logged at most once a second with how many (a flood must not flood the log). */
export function refusalReporter (log: () => { warn: (obj: object, msg: string) => void } | undefined): (address: string, reason: string) => void {
  let count = 0
  let timer: NodeJS.Timeout | undefined
  return (address, reason) => {
    count++
    if (timer !== undefined) return
    log()?.warn({ client: address, reason }, 'connection refused')
    count = 0
    timer = setTimeout(() => {
      timer = undefined
      if (count > 0) log()?.warn({ refused: count }, 'connections refused in the last second')
      count = 0
    }, 1000)
    timer.unref()
  }
}

/**
 * Everything a listening server of the service needs, on any server: the
 * timeouts and connection caps (limitServer), half-open sockets, and Node's
 * parser refusals in the API's {"message"} form. A client may half-close its
 * side once it has sent its request (HTTP/1.0 style, `Connection: close`
 * clients, scripts): Node then drops every answer still being worked on (a
 * bus read, a BMC, an scrypt check) unless the server allows half-open
 * sockets; with it, the answer goes out, then the socket closes.
 */
export function hardenServer (server: http.Server, limits: HttpLimits, onRefused?: (address: string, reason: string) => void): void {
  limitServer(server, limits, onRefused)
  ;(server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true
  // Fastify's clientErrorHandler option, for a server made without it
  server.removeAllListeners('clientError')
  server.on('clientError', clientErrorHandler)
}
