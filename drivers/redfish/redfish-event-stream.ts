import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { BoardEvent, EventSeverity } from '../events.js'
import type { RedfishClient } from './redfish-client.js'
import { DEFAULT_SSE_LIMITS, SseParser, type SseLimits } from './sse-parser.js'

/**
 * A subscription to one Redfish service's EventService by Server-Sent
 * Events (DSP0266 §13.5): the service root's EventService, where it is
 * enabled and offers `ServerSentEventUri`, is read and the stream held
 * open; each Event's records (Event.v1_7_0 EventRecord) become BoardEvents
 * as GET /events lists a LogService's entries (the record's LogEntry id
 * when it links one, so both paths name an entry alike).
 *
 * Bounded against a hostile service: a deadline on connecting (headers of
 * a 200 text/event-stream), line and message caps (SseParser), a deadline
 * on a message once begun (slowloris), an idle deadline, at most
 * MAX_RECORDS records per message; a failure reconnects with backoff and
 * Last-Event-ID. State: `connecting` until the first stream is open or
 * it fails, `live` while one is, `off` when the service offers no stream
 * or `failuresBeforeOff` attempts in a row failed (the caller reads the
 * LogService then; the subscription keeps retrying at the longest backoff
 * and goes `live` again when a stream opens).
 */
export type EventStreamState = 'connecting' | 'live' | 'off'

export interface PushedEvent {
  entry: BoardEvent
  /** The record's OriginOfCondition (@odata.id), if any: which board it is about. */
  origin?: string
  /** Whether the record linked its LogEntry (its record_id is then the LogService entry's Id). */
  linked: boolean
}

export interface RedfishEventStreamOptions {
  connectTimeoutMs?: number
  /** A message begun must end within this (ms). */
  messageTimeoutMs?: number
  /** Nothing at all (not even a keep-alive comment) for this long: reconnect (ms). */
  idleTimeoutMs?: number
  backoffMs?: { initial: number, max: number }
  failuresBeforeOff?: number
  limits?: SseLimits
  random?: () => number
  log?: StreamLog
}

/** The stream logs its transitions at debug (the service's logger, when it has one). */
interface StreamLog { debug?: (obj: object, msg: string) => void }

const MAX_RECORDS = 100
/** Messages in a row that are no Redfish Event before the stream is dropped. */
const MAX_BAD_IN_A_ROW = 3
/** A stream open this long (ms) counts as a success when it ends. */
const STABLE_MS = 60_000
const SEVERITY: Record<string, EventSeverity> = { OK: 'ok', Warning: 'warning', Critical: 'critical' }

type Json = Record<string, any>

export class RedfishEventStream {
  state: EventStreamState = 'connecting'
  /** Why the last attempt failed (status, logs). */
  reason?: string
  /** Messages taken and dropped (not JSON, no records) over the subscription's life. */
  readonly counters = { connects: 0, messages: 0, dropped: 0 }
  private readonly listeners = new Set<(events: PushedEvent[]) => void>()
  private readonly parser: SseParser
  private readonly options: Required<Omit<RedfishEventStreamOptions, 'log' | 'limits'>>
  private readonly log: StreamLog
  private request?: ClientRequest
  private timer?: ReturnType<typeof setTimeout>
  private failures = 0
  private badInARow = 0
  closed = false
  private started = false

  constructor (private readonly client: RedfishClient, options: RedfishEventStreamOptions = {}) {
    this.options = {
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      messageTimeoutMs: options.messageTimeoutMs ?? 5000,
      idleTimeoutMs: options.idleTimeoutMs ?? 120_000,
      backoffMs: options.backoffMs ?? { initial: 1000, max: 60_000 },
      failuresBeforeOff: options.failuresBeforeOff ?? 2,
      random: options.random ?? Math.random
    }
    this.parser = new SseParser(options.limits ?? DEFAULT_SSE_LIMITS)
    this.log = options.log ?? {}
  }

  /** Adds a listener (the first starts the subscription); returns its removal (the last closes it). */
  subscribe (listener: (events: PushedEvent[]) => void): () => void {
    this.listeners.add(listener)
    if (!this.started) {
      this.started = true
      this.connect()
    }
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.close()
    }
  }

  close (): void {
    this.closed = true
    clearTimeout(this.timer)
    this.request?.destroy()
    this.request = undefined
  }

  private connect (): void {
    if (this.closed) return
    this.open().catch((err: Error) => { this.failed(err.message, false) })
  }

  /** Reads the EventService and opens its stream; resolves once the stream is open (or the service offers none). */
  private async open (): Promise<void> {
    const root = (await this.client.get('/redfish/v1/', { timeoutMs: this.options.connectTimeoutMs })).body as Json
    const serviceUri = root?.EventService?.['@odata.id']
    if (typeof serviceUri !== 'string') return this.failed('the service has no EventService', true)
    const service = (await this.client.get(serviceUri, { timeoutMs: this.options.connectTimeoutMs })).body as Json
    const sse = service?.ServerSentEventUri
    if (service?.ServiceEnabled === false || typeof sse !== 'string' || sse === '') return this.failed('the EventService offers no ServerSentEventUri', true)
    const path = sse.startsWith('/') ? sse : new URL(sse).pathname
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' }
    if (this.parser.lastEventId !== '') headers['last-event-id'] = this.parser.lastEventId
    const options = await this.client.streamOptions(path, headers)
    if (this.closed) return
    this.counters.connects++
    const request = (options.protocol === 'https:' ? httpsRequest : httpRequest)(options)
    this.request = request
    let openedAt = 0
    let idle: ReturnType<typeof setTimeout> | undefined
    let message: ReturnType<typeof setTimeout> | undefined
    const end = (why: string): void => {
      clearTimeout(idle)
      clearTimeout(message)
      clearTimeout(deadline)
      if (this.request !== request) return
      this.request = undefined
      request.destroy()
      // a stream that stayed open a while was a success, whatever ended it
      if (openedAt > 0 && Date.now() - openedAt >= STABLE_MS) this.failures = 0
      if (!this.closed) this.failed(why, false)
    }
    const deadline = setTimeout(() => end(`no event stream within ${this.options.connectTimeoutMs} ms`), this.options.connectTimeoutMs)
    request.on('error', (err) => end(err.message))
    request.on('response', (response: IncomingMessage) => {
      clearTimeout(deadline)
      const type = String(response.headers['content-type'] ?? '')
      if (response.statusCode !== 200 || !type.startsWith('text/event-stream')) {
        response.resume()
        end(`the event stream answered HTTP ${response.statusCode ?? 0} ${type}`)
        return
      }
      openedAt = Date.now()
      // back from off: live once a message comes (or the stream lasts); the LogService is read meanwhile
      if (this.state === 'connecting') this.state = 'live'
      this.reason = undefined
      this.log.debug?.({ service: this.client.url, uri: path }, 'Redfish event stream open')
      const touch = (): void => {
        if (this.state === 'off' && Date.now() - openedAt >= STABLE_MS) this.state = 'live'
        clearTimeout(idle)
        idle = setTimeout(() => end(`the event stream was silent for ${this.options.idleTimeoutMs} ms`), this.options.idleTimeoutMs)
      }
      touch()
      response.setEncoding('utf8')
      response.on('data', (text: string) => {
        touch()
        let messages
        try {
          messages = this.parser.push(text)
        } catch (err) {
          end((err as Error).message)
          return
        }
        for (const m of messages) {
          if (this.take(m.data)) {
            this.failures = 0
            this.badInARow = 0
            this.state = 'live'
          } else if (++this.badInARow >= MAX_BAD_IN_A_ROW) {
            end(`${MAX_BAD_IN_A_ROW} event stream messages in a row were no Redfish Event`)
            return
          }
        }
        // a message begun must end in time, however slowly its bytes come
        if (!this.parser.pending) {
          clearTimeout(message)
          message = undefined
        } else message ??= setTimeout(() => end(`an event stream message not finished within ${this.options.messageTimeoutMs} ms`), this.options.messageTimeoutMs)
      })
      response.on('error', (err) => end(err.message))
      response.on('close', () => end('the service closed the event stream'))
    })
    request.end()
  }

  /** One message's data: a Redfish Event, whose records go to the listeners; false when it is none. */
  private take (data: string): boolean {
    this.counters.messages++
    let body: Json
    try {
      body = JSON.parse(data)
    } catch {
      this.counters.dropped++
      return false
    }
    const records: unknown[] = Array.isArray(body?.Events) ? body.Events.slice(0, MAX_RECORDS) : []
    const events = records.filter((r): r is Json => typeof r === 'object' && r !== null).map(toPushedEvent)
    if (events.length === 0) {
      this.counters.dropped++
      return false
    }
    for (const listener of this.listeners) listener(events)
    return true
  }

  /** An attempt failed: back off and try again; `off` once the service offers no stream or attempts keep failing. */
  private failed (why: string, noStream: boolean): void {
    if (this.closed) return
    this.reason = why
    this.failures++
    if (noStream || this.failures >= this.options.failuresBeforeOff) {
      if (this.state !== 'off') this.log.debug?.({ service: this.client.url, reason: why }, 'Redfish event stream off: reading the LogService instead')
      this.state = 'off'
    }
    const { initial, max } = this.options.backoffMs
    const wait = noStream ? max : Math.min(max, initial * 2 ** Math.min(this.failures - 1, 16))
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.connect(), wait * (0.75 + 0.5 * this.options.random()))
    this.timer.unref()
  }
}

/** An EventRecord as GET /events lists a log entry (redfish-service.ts events()). */
export function toPushedEvent (r: Json): PushedEvent {
  const logEntry = typeof r.LogEntry?.['@odata.id'] === 'string' ? r.LogEntry['@odata.id'] as string : undefined
  const oem: Json = r.Oem?.OpenDCRE ?? {}
  const origin = typeof r.OriginOfCondition?.['@odata.id'] === 'string' ? r.OriginOfCondition['@odata.id'] as string : undefined
  const severity = String(r.MessageSeverity ?? r.Severity ?? 'OK')
  const deasserted = oem.EntryCode === 'Deassert' || /(Normal|NoLonger|Restored|Deasserted)/.test(String(r.MessageId ?? ''))
  return {
    entry: {
      record_id: (logEntry?.split('/').filter((s) => s !== '').pop() ?? String(r.EventId ?? '')).slice(0, 64),
      time: typeof r.EventTimestamp === 'string' && r.EventTimestamp !== '' ? r.EventTimestamp.slice(0, 64) : null,
      sensor: String(oem.SensorName ?? (origin !== undefined && /\/Sensors\//.test(origin) ? origin.split('/').pop() : '')).slice(0, 255),
      sensor_type: String(oem.SensorType ?? r.EventType ?? 'Event').slice(0, 255),
      event: String(r.Message ?? r.MessageId ?? '').slice(0, 1024),
      direction: deasserted ? 'deasserted' : 'asserted',
      severity: SEVERITY[severity] ?? 'info'
    },
    origin,
    linked: logEntry !== undefined
  }
}
