import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { Logger } from 'pino'
import { OpenDcreError, type OpenDcreErrorCode } from '../errors.js'
import type { RedfishServerConfig } from './redfish-config.js'

/**
 * One Redfish service's HTTP client: it owns the keep-alive connections
 * (Node's own http/https agent), the authentication (a SessionService session with X-Auth-Token,
 * reused and renewed on 401, deleted on close; HTTP Basic when the service has
 * no SessionService; nothing without credentials), the time bound of every
 * call, and the counters health and metrics read. Retries live only here:
 * a GET whose connection dropped before an answer is sent once more; a 401
 * logs in again and resends once; nothing else is ever re-sent.
 */

export interface RedfishResponse {
  status: number
  body: any
  /** The ETag header, else the body's @odata.etag. */
  etag?: string
  headers: Record<string, string | string[] | undefined>
  /** The size of the answer's text (a 304: of the answer it stands for). */
  bytes?: number
}

class RedfishHttpError extends OpenDcreError {
  readonly status: number
  constructor (code: OpenDcreErrorCode, status: number, message: string) {
    super(code, message)
    this.name = 'RedfishHttpError'
    this.status = status
  }
}

export interface RedfishClientStatus {
  state: 'idle' | 'up' | 'down'
  auth: 'unknown' | 'none' | 'basic' | 'session'
  reason?: string
  lastSuccessAt: number | null
  counters: { requests: number, errors: number, timeouts: number, sessionLogins: number }
}

interface RedfishClientOptions {
  log?: Pick<Logger, 'debug' | 'warn'>
  /** Connections kept per service (default 4). */
  connections?: number
  now?: () => number
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

/** How one call is made: its own time bound (a command's deadline left), and whether to ask with If-None-Match. */
export interface CallOptions {
  /** At most this long (ms) instead of timeout_ms, when shorter. */
  timeoutMs?: number
  /** Send If-None-Match with the ETag of the last answer kept for this path; a 304 answers with that body. */
  conditional?: boolean
}

/** Answers kept for conditional GETs: at most this many paths, each at most CACHE_MAX_BYTES of JSON. */
const CACHE_ENTRIES = 256
const CACHE_MAX_BYTES = 1024 * 1024

/** An answer larger than this is cut off: a service answering without end never fills memory. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024
/** Idle connections are closed after this long. */
const KEEP_ALIVE_MS = 10_000

/** The service's address without credentials, for logs, health and metric labels. */
function safeUrl (url: string): string {
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    return u.origin
  } catch {
    return '(invalid url)'
  }
}

/** The message of a Redfish error body (DSP0266 §9.6), if any. */
function redfishMessage (body: any): string | undefined {
  const error = body?.error
  if (error === undefined || error === null) return undefined
  const info = Array.isArray(error['@Message.ExtendedInfo']) ? error['@Message.ExtendedInfo'][0]?.Message : undefined
  return typeof info === 'string' ? info : typeof error.message === 'string' ? error.message : undefined
}

export class RedfishClient {
  readonly url: string
  private readonly config: RedfishServerConfig
  private readonly agent: HttpAgent
  private readonly target: { protocol: 'http:' | 'https:', host: string, port: number }
  private readonly log?: RedfishClientOptions['log']
  private readonly now: () => number
  private auth: RedfishClientStatus['auth'] = 'unknown'
  private token?: string
  private sessionUri?: string
  private login?: Promise<void>
  private closed = false
  private readonly state: Omit<RedfishClientStatus, 'auth'> = {
    state: 'idle',
    lastSuccessAt: null,
    counters: { requests: 0, errors: 0, timeouts: 0, sessionLogins: 0 }
  }

  constructor (config: RedfishServerConfig, options: RedfishClientOptions = {}) {
    this.config = config
    this.url = safeUrl(config.url)
    this.log = options.log
    this.now = options.now ?? Date.now
    const url = new URL(config.url)
    const https = url.protocol === 'https:'
    this.target = { protocol: https ? 'https:' : 'http:', host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? (https ? 443 : 80) : Number(url.port) }
    // idle connections are kept 10 s; at most `connections` at once, the rest wait their turn
    const agentOptions = { keepAlive: true, maxSockets: options.connections ?? 4, timeout: KEEP_ALIVE_MS, scheduling: 'lifo' as const }
    this.agent = https
      ? new HttpsAgent({ ...agentOptions, rejectUnauthorized: config.verifyTls, ca: config.ca })
      : new HttpAgent(agentOptions)
  }

  status (): RedfishClientStatus {
    return { ...this.state, counters: { ...this.state.counters }, auth: this.auth }
  }

  async get (path: string, options: CallOptions = {}): Promise<RedfishResponse> {
    return await this.request('GET', path, undefined, {}, options)
  }

  async post (path: string, body: unknown): Promise<RedfishResponse> {
    return await this.request('POST', path, body)
  }

  /** PATCH with If-Match when the resource's ETag is known (DSP0266 §9.4.5: a 412 means it changed since). */
  async patch (path: string, body: unknown, etag?: string): Promise<RedfishResponse> {
    return await this.request('PATCH', path, body, etag !== undefined ? { 'if-match': etag } : {})
  }

  /**
   * What a long-lived request (the EventService's SSE stream) needs: host,
   * port, TLS settings and the current session's authentication (logging in
   * first), on a connection of its own outside the pool.
   */
  async streamOptions (path: string, headers: Record<string, string>): Promise<RequestOptions> {
    if (this.closed) throw new OpenDcreError('device-error', `${this.url}: the client is closed`)
    await this.authenticate()
    const all: Record<string, string> = { 'odata-version': '4.0', ...headers }
    const credentials = this.config.credentials
    if (credentials !== undefined && this.auth === 'session' && this.token !== undefined) all['x-auth-token'] = this.token
    else if (credentials !== undefined && this.auth === 'basic') all.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
    return { ...this.target, path, method: 'GET', headers: all, agent: false, ...(this.target.protocol === 'https:' ? { rejectUnauthorized: this.config.verifyTls, ca: this.config.ca } : {}) } as RequestOptions
  }

  /** Logs out (DELETE of the session, bounded like any call) and closes the connections, aborting calls still waiting for a slow service. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.sessionUri !== undefined && this.token !== undefined) {
      await this.send('DELETE', this.sessionUri, undefined, {}).catch(() => {})
      this.token = undefined
      this.sessionUri = undefined
    }
    this.agent.destroy()
  }

  async request (method: Method, path: string, body?: unknown, headers: Record<string, string> = {}, options: CallOptions = {}): Promise<RedfishResponse> {
    if (this.closed) throw new OpenDcreError('unavailable', `Redfish client for ${this.url} is closed`)
    this.state.counters.requests++
    const kept = options.conditional === true ? this.kept.get(path) : undefined
    if (kept !== undefined) headers = { ...headers, 'if-none-match': kept.etag }
    try {
      await this.authenticate()
      const token = this.token
      let response = await this.send(method, path, body, headers, true, options.timeoutMs)
      if (response.status === 401 && this.auth === 'session') {
        // the session expired or the BMC restarted: log in again (once, for
        // every call that met the same dead token), resend once
        this.log?.debug({ path }, 'Redfish session rejected (401): logging in again')
        if (this.token === token) this.token = undefined
        await this.authenticate()
        response = await this.send(method, path, body, headers, true, options.timeoutMs)
      }
      if (response.status === 304 && kept !== undefined) {
        response = { ...response, status: 200, body: kept.body, etag: kept.etag, bytes: kept.bytes }
      } else if (response.status >= 300 && response.status < 400) {
        const location = response.headers.location
        throw new RedfishHttpError('device-error', response.status, `${this.url}: ${method} ${path}: HTTP ${response.status}${typeof location === 'string' ? ` (to ${location})` : ''}; redirects are not followed`)
      }
      if (response.status >= 400) {
        const code: OpenDcreErrorCode = response.status === 404 ? 'not-found' : response.status === 405 || response.status === 501 ? 'unsupported' : 'device-error'
        const detail = redfishMessage(response.body)
        throw new RedfishHttpError(code, response.status, `${method} ${path}: HTTP ${response.status}${detail !== undefined ? ` (${detail})` : ''}`)
      }
      if (method === 'GET' && (response.body === undefined || response.body === null)) {
        throw new RedfishHttpError('device-error', response.status, `${this.url}: GET ${path}: HTTP ${response.status} with an empty answer`)
      }
      if (options.conditional === true) this.keep(path, response)
      this.state.state = 'up'
      this.state.lastSuccessAt = this.now()
      delete this.state.reason
      return response
    } catch (err) {
      const e = err as OpenDcreError
      if (e.code === 'timeout') this.state.counters.timeouts++
      else this.state.counters.errors++
      // an HTTP error answer means the service is there; no answer means it is down
      if (!(err instanceof RedfishHttpError) || err.status === 401 || err.status >= 500) {
        this.state.state = 'down'
        this.state.reason = e.message
      }
      throw err
    }
  }

  /** Picks the authentication once (service root: a SessionService means sessions) and logs in. */
  private async authenticate (): Promise<void> {
    if (this.config.credentials === undefined) {
      this.auth = 'none'
      return
    }
    if (this.auth === 'basic' || (this.auth === 'session' && this.token !== undefined)) return
    this.login ??= this.doLogin().finally(() => { this.login = undefined })
    await this.login
  }

  private async doLogin (): Promise<void> {
    const credentials = this.config.credentials
    if (credentials === undefined) return
    if (this.auth === 'unknown') {
      const root = await this.send('GET', '/redfish/v1/', undefined, {}, false)
      if (root.status >= 400) throw new RedfishHttpError('device-error', root.status, `GET /redfish/v1/: HTTP ${root.status}`)
      const sessions = root.body?.Links?.Sessions?.['@odata.id'] ?? (root.body?.SessionService !== undefined ? '/redfish/v1/SessionService/Sessions' : undefined)
      this.sessionsPath = typeof sessions === 'string' ? sessions : undefined
      this.auth = this.sessionsPath !== undefined ? 'session' : 'basic'
    }
    if (this.auth !== 'session' || this.sessionsPath === undefined) return
    const answer = await this.send('POST', this.sessionsPath, { UserName: credentials.username, Password: credentials.password }, {}, false)
    const token = answer.headers['x-auth-token']
    if (answer.status >= 300 || typeof token !== 'string') {
      throw new RedfishHttpError('device-error', answer.status === 200 ? 401 : answer.status, `login to ${this.url} refused: HTTP ${answer.status}${redfishMessage(answer.body) !== undefined ? ` (${String(redfishMessage(answer.body))})` : ''}`)
    }
    this.token = token
    const location = answer.headers.location
    this.sessionUri = typeof location === 'string' ? new URL(location, this.config.url).pathname : answer.body?.['@odata.id']
    this.state.counters.sessionLogins++
    this.log?.debug({ session: this.sessionUri }, 'Redfish session established')
  }

  private sessionsPath?: string
  /** The last answer (with an ETag) of each path asked for conditionally, newest last. */
  private readonly kept = new Map<string, { etag: string, body: unknown, bytes?: number }>()

  private keep (path: string, response: RedfishResponse): void {
    this.kept.delete(path)
    if (response.etag === undefined || (response.headers['content-length'] !== undefined && Number(response.headers['content-length']) > CACHE_MAX_BYTES)) return
    this.kept.set(path, { etag: response.etag, body: response.body, bytes: response.bytes })
    if (this.kept.size > CACHE_ENTRIES) this.kept.delete(this.kept.keys().next().value as string)
  }

  /** One HTTP exchange, bounded by timeout_ms; a GET whose connection dropped is sent once more. */
  private async send (method: Method, path: string, body: unknown, extra: Record<string, string>, withAuth = true, timeoutMs?: number): Promise<RedfishResponse> {
    const headers: Record<string, string> = { accept: 'application/json', 'odata-version': '4.0', ...extra }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const credentials = this.config.credentials
    if (withAuth && credentials !== undefined) {
      if (this.auth === 'session' && this.token !== undefined) headers['x-auth-token'] = this.token
      else if (this.auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
    }
    const attempts = method === 'GET' || method === 'DELETE' ? 2 : 1
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.exchange(method, path, body, headers, Math.max(1, Math.min(timeoutMs ?? Infinity, this.config.timeoutMs)))
      } catch (err) {
        // a kept connection the service had closed: the request never reached it
        const dropped = !(err instanceof OpenDcreError) && ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || (err as NodeJS.ErrnoException).code === 'EPIPE')
        if (dropped && attempt < attempts) continue
        throw this.translate(err, method, path)
      }
    }
  }

  /**
   * One request and its whole answer, within timeout_ms from the start
   * (connecting and waiting for a free connection included); an answer
   * larger than MAX_ANSWER_BYTES is cut off rather than filling memory.
   */
  private async exchange (method: Method, path: string, body: unknown, headers: Record<string, string>, timeoutMs: number): Promise<RedfishResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    if (payload !== undefined) headers['content-length'] = String(payload.length)
    const options: RequestOptions = { ...this.target, path, method, headers, agent: this.agent }
    return await new Promise<RedfishResponse>((resolve, reject) => {
      let settled = false
      const settle = (err: Error | undefined, answer?: RedfishResponse): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (err === undefined) resolve(answer as RedfishResponse)
        else {
          request.destroy()
          reject(err)
        }
      }
      const timer = setTimeout(() => settle(new OpenDcreError('timeout', `no answer from ${this.url} within ${timeoutMs} ms (${method} ${path})`)), timeoutMs)
      const request = (this.target.protocol === 'https:' ? httpsRequest : httpRequest)(options, (response) => {
        // tooLarge marks it for a reader with a smaller GET to fall back on (an expanded poll source)
        const tooLarge = (): void => settle(Object.assign(new OpenDcreError('device-error', `${method} ${path}: the answer from ${this.url} is larger than 16 MiB`), { tooLarge: true }))
        // an answer that declares its size too large is refused before a byte of it is read
        if (Number(response.headers['content-length'] ?? 0) > MAX_ANSWER_BYTES) return tooLarge()
        const chunks: Buffer[] = []
        let size = 0
        response.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_ANSWER_BYTES) tooLarge()
          else chunks.push(chunk)
        })
        response.on('error', (err) => settle(err))
        // the service closed the connection before the whole answer came
        response.on('close', () => {
          if (!response.complete) settle(Object.assign(new Error('the connection closed before the whole answer came'), { code: 'ECONNRESET' }))
        })
        response.on('end', () => {
          try {
            settle(undefined, this.answer(method, path, response.statusCode ?? 0, response.headers, Buffer.concat(chunks).toString('utf8')))
          } catch (err) {
            settle(err as Error)
          }
        })
      })
      request.on('error', (err) => settle(err))
      request.end(payload)
    })
  }

  /** The answer's JSON; a success that is not JSON (by content type or by text) fails naming the service and the resource. */
  private answer (method: Method, path: string, status: number, headers: IncomingHttpHeaders, text: string): RedfishResponse {
    let parsed: any
    const type = headers['content-type']
    if (status < 300 && text !== '' && typeof type === 'string' && !/json/i.test(type)) {
      throw new OpenDcreError('device-error', `${this.url}: ${method} ${path}: the answer is ${type.split(';')[0]}, not JSON`)
    }
    if (text !== '') {
      try {
        parsed = JSON.parse(text)
      } catch {
        if (status < 400) throw new OpenDcreError('device-error', `${this.url}: ${method} ${path}: the answer is not JSON`)
      }
    }
    const etag = headers.etag
    return {
      status,
      body: parsed,
      etag: typeof etag === 'string' ? etag : typeof parsed?.['@odata.etag'] === 'string' ? parsed['@odata.etag'] : undefined,
      headers,
      bytes: text.length
    }
  }

  private translate (err: unknown, method: Method, path: string): Error {
    if (err instanceof OpenDcreError) return err
    const e = err as NodeJS.ErrnoException
    const reason = e.code === 'ECONNREFUSED' ? 'connection refused' : e.message
    return new OpenDcreError('unavailable', `cannot reach ${this.url}: ${reason} (${method} ${path})`, { cause: err })
  }
}
