import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import type { RedfishEmulatorConfig } from './emulator-config.js'
import { RedfishEmulatorService, redfishError, type RedfishAnswer } from './emulator-service.js'
import { EmulatorEventService, SSE_FAULTS, SSE_URI, type SseFault } from './emulator-events.js'

/**
 * A Redfish BMC emulator on node:http (or node:https): one service, its
 * sessions (SessionService, X-Auth-Token) and HTTP Basic, and fault
 * injection for tests. Faults are set from code (`faults`) or over HTTP:
 * POST /emulator/faults {"latency_ms", "fail_status", "fail_count",
 * "drop_count", "drop_method", "expire_sessions", "away_ms", "sensor_reading",
 * "log_entry", "sse_fault"} (outside /redfish, no auth). The EventService's
 * SSE stream is emulator-events.ts.
 */

interface EmulatorFaults {
  /** Added before every answer (ms). */
  latencyMs: number
  /** The next `failCount` requests under /redfish/v1 answer `failStatus` (a 5xx). */
  failStatus: number
  failCount: number
  /** The next `dropCount` requests (of `dropMethod` only, when set) get their connection closed without an answer. */
  dropCount: number
  dropMethod?: string
}

interface RedfishEmulatorServerOptions {
  /** TLS: PEM certificate and key; absent: plain HTTP. */
  tls?: { cert: string | Buffer, key: string | Buffer }
  now?: () => number
  ordinal?: number
}

interface Session { id: string, token: string, user: string, lastUsed: number }

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'odata-version': '4.0', 'cache-control': 'no-cache' }
const SESSIONS = '/redfish/v1/SessionService/Sessions'

export class RedfishEmulatorServer {
  readonly service: RedfishEmulatorService
  readonly eventService: EmulatorEventService
  readonly faults: EmulatorFaults = { latencyMs: 0, failStatus: 503, failCount: 0, dropCount: 0 }
  private readonly config: RedfishEmulatorConfig
  private readonly server: Server
  private readonly sockets = new Set<Socket>()
  private readonly sessions = new Map<string, Session>()
  private readonly now: () => number
  private readonly scheme: 'http' | 'https'
  private host = '127.0.0.1'
  private port = 0
  private away = false
  private returnTimer?: ReturnType<typeof setTimeout>
  /** GETs answered by path (tests read it; at most 1000 paths counted). */
  readonly gets = new Map<string, number>()
  /** Sessions created over this server's life (tests read it). */
  sessionsCreated = 0

  constructor (config: RedfishEmulatorConfig, options: RedfishEmulatorServerOptions = {}) {
    this.config = config
    this.now = options.now ?? Date.now
    this.service = new RedfishEmulatorService(config, { now: this.now, ordinal: options.ordinal })
    this.eventService = new EmulatorEventService(this.service, config.event_service ?? true)
    const handler = (req: IncomingMessage, res: ServerResponse): void => { this.handle(req, res) }
    this.scheme = options.tls !== undefined ? 'https' : 'http'
    this.server = options.tls !== undefined ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createHttpServer(handler)
    this.server.keepAliveTimeout = 30_000
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
  }

  /** http(s)://host:port of the listening server. */
  get url (): string {
    return `${this.scheme}://${this.host}:${this.port}`
  }

  async listen (port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    const address = this.server.address()
    if (address !== null && typeof address === 'object') this.port = address.port
    this.host = host
    return this.url
  }

  /** Every session ends (as if the BMC timed them out or restarted its web server). */
  expireSessions (): void {
    this.sessions.clear()
  }

  get sessionCount (): number {
    return this.sessions.size
  }

  /** The server goes away: stops listening and drops every connection. */
  async goAway (): Promise<void> {
    this.away = true
    this.eventService.close()
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /** ... and comes back on the same port, with its state (sessions lost, as after a BMC reboot). */
  async comeBack (): Promise<void> {
    if (!this.away) return
    this.away = false
    this.sessions.clear()
    await this.listen(this.port, this.host)
  }

  async close (): Promise<void> {
    clearTimeout(this.returnTimer)
    this.away = true
    this.eventService.close()
    for (const socket of this.sockets) socket.destroy()
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private handle (req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= 1_000_000) chunks.push(chunk)
    })
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const answer = (): void => {
        if (this.away) {
          req.socket.destroy()
          return
        }
        this.answer(req, res, text)
      }
      if (this.faults.latencyMs > 0) setTimeout(answer, this.faults.latencyMs)
      else answer()
    })
  }

  private answer (req: IncomingMessage, res: ServerResponse, text: string): void {
    const url = new URL(req.url ?? '/', 'http://emulator')
    const path = decodeURIComponent(url.pathname)
    const method = req.method ?? 'GET'
    if (path === '/emulator/faults') {
      this.send(res, this.faultControl(method, text))
      return
    }
    if (method in this.service.requests) this.service.requests[method as keyof RedfishEmulatorService['requests']]++
    if (method === 'GET' && (this.gets.has(path) || this.gets.size < 1000)) this.gets.set(path, (this.gets.get(path) ?? 0) + 1)
    if (path.startsWith('/redfish/v1')) {
      if (this.faults.dropCount > 0 && (this.faults.dropMethod === undefined || this.faults.dropMethod === method)) {
        this.faults.dropCount--
        req.socket.destroy()
        return
      }
      if (this.faults.failCount > 0) {
        this.faults.failCount--
        this.send(res, redfishError(this.faults.failStatus, 'ServiceTemporarilyUnavailable', 'The service is temporarily unavailable (injected fault).'))
        return
      }
    }
    if (path === SSE_URI && method === 'GET' && this.eventService.resource(path.slice(0, -4)) !== undefined) {
      if (this.authenticate(req) === undefined) this.send(res, redfishError(401, 'NoValidSession', 'There is no valid session established with the implementation.'))
      else this.eventService.attach(req, res)
      return
    }
    let body: unknown
    if (text !== '' && (method === 'POST' || method === 'PATCH')) {
      try {
        body = JSON.parse(text)
      } catch {
        this.send(res, redfishError(400, 'MalformedJSON', 'The request body submitted was malformed JSON.'))
        return
      }
    }
    this.send(res, this.route(method, path, url, req, body), method === 'HEAD')
  }

  private route (method: string, path: string, url: URL, req: IncomingMessage, body: unknown): RedfishAnswer {
    const p = path.replace(/\/$/, '')
    // the version document, the service root and logging in are open (DSP0266 §13.3.1)
    if (p === '/redfish' || p === '/redfish/v1' || p === '/redfish/v1/odata' || p === '/redfish/v1/$metadata') {
      if (method !== 'GET' && method !== 'HEAD') return redfishError(405, 'OperationNotAllowed', `${method} is not allowed here.`)
      return this.service.get(p)
    }
    if (p === SESSIONS && method === 'POST' && this.service.sessionService) return this.login(body)
    const who = this.authenticate(req)
    if (who === undefined) {
      const answer = redfishError(401, 'NoValidSession', 'There is no valid session established with the implementation.')
      answer.headers = { 'www-authenticate': 'Basic realm="Redfish"' }
      return answer
    }
    if (p === SESSIONS && this.service.sessionService && method === 'GET') {
      return { status: 200, body: { '@odata.id': SESSIONS, '@odata.type': '#SessionCollection.SessionCollection', Name: 'Session Collection', 'Members@odata.count': this.sessions.size, Members: [...this.sessions.values()].map((s) => ({ '@odata.id': `${SESSIONS}/${s.id}` })) } }
    }
    if (p.startsWith(`${SESSIONS}/`) && this.service.sessionService) {
      const id = p.slice(SESSIONS.length + 1)
      const session = [...this.sessions.values()].find((s) => s.id === id)
      if (session === undefined) return redfishError(404, 'ResourceNotFound', `The session ${id} was not found.`)
      if (method === 'DELETE') {
        this.sessions.delete(session.token)
        return { status: 204 }
      }
      if (method === 'GET') return { status: 200, body: { '@odata.id': p, '@odata.type': '#Session.v1_3_0.Session', Id: session.id, Name: 'User Session', UserName: session.user } }
    }
    const events = this.eventService.resource(p)
    if (events !== undefined) return method === 'GET' || method === 'HEAD' ? { status: 200, body: events } : redfishError(405, 'OperationNotAllowed', `${method} is not allowed on ${p}.`)
    if (method === 'GET' || method === 'HEAD') {
      const expand = url.searchParams.get('$expand')
      return this.service.get(p, expand !== null && /^[.*](\(\$levels=1\))?$/.test(expand))
    }
    if (method === 'POST' && p === '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset') return this.service.reset(body)
    if (method === 'PATCH') {
      const current = this.service.etag(p)
      const ifMatch = req.headers['if-match']
      if (ifMatch !== undefined && current !== undefined && ifMatch !== '*' && !ifMatch.split(',').map((t) => t.trim()).some((t) => strip(t) === strip(current))) {
        return redfishError(412, 'PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.')
      }
      return this.service.patch(p, body)
    }
    return redfishError(405, 'OperationNotAllowed', `${method} is not allowed on ${p}.`)
  }

  private login (body: unknown): RedfishAnswer {
    const { UserName: user, Password: password } = (body ?? {}) as { UserName?: unknown, Password?: unknown }
    if (typeof user !== 'string' || typeof password !== 'string') return redfishError(400, 'PropertyMissing', 'UserName and Password are required.')
    if (!this.credentialsMatch(user, password)) return redfishError(401, 'ResourceAtUriUnauthorized', 'Invalid username or password.')
    const session: Session = { id: randomUUID().slice(0, 8), token: randomBytes(24).toString('base64url'), user, lastUsed: this.now() }
    this.sessions.set(session.token, session)
    this.sessionsCreated++
    return {
      status: 201,
      headers: { 'x-auth-token': session.token, location: `${SESSIONS}/${session.id}` },
      body: { '@odata.id': `${SESSIONS}/${session.id}`, '@odata.type': '#Session.v1_3_0.Session', Id: session.id, Name: 'User Session', UserName: user }
    }
  }

  private credentialsMatch (user: string, password: string): boolean {
    if (this.config.username === undefined) return true
    const same = (a: string, b: string): boolean => {
      const x = Buffer.from(a)
      const y = Buffer.from(b)
      return x.length === y.length && timingSafeEqual(x, y)
    }
    return same(user, this.config.username) && same(password, this.config.password ?? '')
  }

  /** The user of a request: a live session's token, or Basic credentials; '' when the service has no authentication. */
  private authenticate (req: IncomingMessage): string | undefined {
    if (this.config.username === undefined) return ''
    const token = req.headers['x-auth-token']
    if (typeof token === 'string' && this.service.sessionService) {
      const session = this.sessions.get(token)
      if (session === undefined) return undefined
      const timeoutMs = (this.config.session_timeout_s ?? 1800) * 1000
      if (this.now() - session.lastUsed > timeoutMs) {
        this.sessions.delete(token)
        return undefined
      }
      session.lastUsed = this.now()
      return session.user
    }
    const auth = req.headers.authorization
    if (auth !== undefined && /^basic /i.test(auth)) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon > 0 && this.credentialsMatch(decoded.slice(0, colon), decoded.slice(colon + 1))) return decoded.slice(0, colon)
    }
    return undefined
  }

  private faultControl (method: string, text: string): RedfishAnswer {
    if (method === 'GET') return { status: 200, body: { ...this.faults, sessions: this.sessions.size } }
    if (method !== 'POST') return redfishError(405, 'OperationNotAllowed', 'GET or POST')
    let f: Record<string, unknown>
    try {
      f = JSON.parse(text === '' ? '{}' : text) as Record<string, unknown>
    } catch {
      return redfishError(400, 'MalformedJSON', 'not JSON')
    }
    const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined)
    if (f.latency_ms !== undefined) this.faults.latencyMs = int(f.latency_ms) ?? this.faults.latencyMs
    if (f.fail_status !== undefined) this.faults.failStatus = int(f.fail_status) ?? this.faults.failStatus
    if (f.fail_count !== undefined) this.faults.failCount = int(f.fail_count) ?? this.faults.failCount
    if (f.drop_count !== undefined) this.faults.dropCount = int(f.drop_count) ?? this.faults.dropCount
    if (f.drop_method !== undefined) this.faults.dropMethod = typeof f.drop_method === 'string' && f.drop_method !== '' ? f.drop_method : undefined
    if (f.expire_sessions === true) this.expireSessions()
    // {"sensor_reading": {"name": "CPU1 Temp", "reading": 97}}: a reading pinned (null: drifts again), events for threshold crossings
    const pin = f.sensor_reading as { name?: unknown, reading?: unknown } | undefined
    if (pin !== undefined) {
      if (typeof pin?.name !== 'string' || (typeof pin.reading !== 'number' && pin.reading !== null)) return redfishError(400, 'PropertyValueFormatError', 'sensor_reading takes {name, reading}')
      try {
        this.service.setReading(pin.name, pin.reading as number | null)
      } catch (err) {
        return redfishError(400, 'PropertyValueNotInList', (err as Error).message)
      }
    }
    // {"log_entry": {"message", "severity"}}: an entry added to the event log (and pushed on the SSE stream)
    const entry = f.log_entry as { message?: unknown, severity?: unknown } | undefined
    if (entry !== undefined) {
      if (typeof entry?.message !== 'string' || !['OK', 'Warning', 'Critical'].includes(String(entry.severity))) return redfishError(400, 'PropertyValueFormatError', 'log_entry takes {message, severity: OK|Warning|Critical}')
      this.service.logEvent(entry.message, String(entry.severity), 'asserted', undefined, 'Event')
    }
    if (f.sse_fault !== undefined) {
      if (!SSE_FAULTS.includes(f.sse_fault as SseFault)) return redfishError(400, 'PropertyValueNotInList', `sse_fault is one of ${SSE_FAULTS.join(', ')}`)
      this.eventService.setFault(f.sse_fault as SseFault)
    }
    const awayMs = int(f.away_ms)
    if (awayMs !== undefined && awayMs > 0) {
      // answer first, then go away for away_ms
      setImmediate(() => {
        this.goAway().then(() => {
          this.returnTimer = setTimeout(() => { this.comeBack().catch(() => {}) }, awayMs)
        }, () => {})
      })
    }
    return { status: 204 }
  }

  private send (res: ServerResponse, answer: RedfishAnswer, headOnly = false): void {
    const headers: Record<string, string> = { ...JSON_HEADERS, ...answer.headers }
    if (answer.body === undefined) {
      delete headers['content-type']
      res.writeHead(answer.status, headers)
      res.end()
      return
    }
    const text = JSON.stringify(answer.body)
    headers['content-length'] = String(Buffer.byteLength(text))
    res.writeHead(answer.status, headers)
    res.end(headOnly ? undefined : text)
  }
}

function strip (etag: string): string {
  return etag.replace(/^W\//, '')
}

/** Start `count` emulated servers from one config, on consecutive ports from `port` (0: each its own ephemeral port). */
export async function startRedfishEmulators (config: RedfishEmulatorConfig, options: { count?: number, port?: number, host?: string } & RedfishEmulatorServerOptions = {}): Promise<RedfishEmulatorServer[]> {
  const servers: RedfishEmulatorServer[] = []
  try {
    for (let i = 0; i < (options.count ?? 1); i++) {
      const server = new RedfishEmulatorServer(config, { ...options, ordinal: i + 1 })
      servers.push(server)
      await server.listen(options.port === undefined || options.port === 0 ? 0 : options.port + i, options.host ?? '127.0.0.1')
    }
  } catch (err) {
    await Promise.allSettled(servers.map(async (s) => await s.close()))
    throw err
  }
  return servers
}
