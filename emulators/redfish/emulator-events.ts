import type { IncomingMessage, ServerResponse } from 'node:http'
import type { EventEntry, RedfishEmulatorService } from './emulator-service.js'
import { sensorId } from './emulator-sensors.js'

/**
 * The emulated EventService (DSP0268 EventService.v1_7_2) and its
 * Server-Sent Events stream (DSP0266 §13.5 "Server-Sent Events"): every
 * entry added to the event log (a threshold crossed by fault injection, a
 * reset, an injected log entry) is pushed to every open stream as a Redfish
 * Event (Event.v1_7_0: one EventRecord with EventId, EventTimestamp,
 * Severity, Message, MessageId, OriginOfCondition and its LogEntry), with
 * `id:` the entry's id. A client that reconnects with Last-Event-ID gets
 * what it missed (from the last EVENTS_KEPT). `$filter` is not supported
 * (SSEFilterPropertiesSupported says so).
 *
 * Fault injection for clients' tests (`sse_fault`): `endless_line` (a
 * `data:` line that never ends), `garbage` (bytes that are no event
 * stream), `slowloris` (one byte a second, never a whole event),
 * `disconnect` (the connection closed after the headers), `refuse` (503).
 * Setting one drops the open streams, so clients reconnect into it.
 */
export const EVENT_SERVICE = '/redfish/v1/EventService'
export const SSE_URI = `${EVENT_SERVICE}/SSE`

export type SseFault = 'none' | 'endless_line' | 'garbage' | 'slowloris' | 'disconnect' | 'refuse'
export const SSE_FAULTS: readonly SseFault[] = ['none', 'endless_line', 'garbage', 'slowloris', 'disconnect', 'refuse']

/** Events kept for Last-Event-ID replays. */
const EVENTS_KEPT = 1000
/** Open streams at most (a BMC's limit; bmcweb allows 10). */
const MAX_STREAMS = 10
const KEEPALIVE_MS = 15_000

type Json = Record<string, unknown>

interface Stream { res: ServerResponse, timers: Array<ReturnType<typeof setInterval>> }

export class EmulatorEventService {
  private readonly streams = new Set<Stream>()
  private readonly kept: Array<{ id: number, text: string }> = []
  private fault: SseFault = 'none'
  /** Streams opened over the emulator's life, and the last Last-Event-ID a client sent (tests read them). */
  opened = 0
  lastEventIdAsked?: string

  constructor (private readonly service: RedfishEmulatorService, private readonly enabled: boolean) {
    service.onLogEntry = (entry) => { this.publish(entry) }
  }

  get streamCount (): number {
    return this.streams.size
  }

  /** The EventService resources, or undefined for other paths (or when the service offers none). */
  resource (path: string): Json | undefined {
    if (!this.enabled) return undefined
    if (path === EVENT_SERVICE) {
      return {
        '@odata.id': EVENT_SERVICE,
        '@odata.type': '#EventService.v1_7_2.EventService',
        Id: 'EventService',
        Name: 'Event Service',
        Status: { State: 'Enabled', Health: 'OK' },
        ServiceEnabled: true,
        DeliveryRetryAttempts: 3,
        DeliveryRetryIntervalSeconds: 30,
        EventFormatTypes: ['Event'],
        RegistryPrefixes: ['SensorEvent', 'ResourceEvent', 'OpenDCRE'],
        ServerSentEventUri: SSE_URI,
        SSEFilterPropertiesSupported: { EventFormatType: false, MessageId: false, MetricReportDefinition: false, OriginResource: false, RegistryPrefix: false, ResourceType: false, SubordinateResources: false },
        Subscriptions: { '@odata.id': `${EVENT_SERVICE}/Subscriptions` }
      }
    }
    if (path === `${EVENT_SERVICE}/Subscriptions`) {
      // push subscriptions (POST of an EventDestination) are not emulated: SSE only
      return { '@odata.id': path, '@odata.type': '#EventDestinationCollection.EventDestinationCollection', Name: 'Event Subscriptions', 'Members@odata.count': 0, Members: [] }
    }
    return undefined
  }

  setFault (fault: SseFault): void {
    this.fault = fault
    this.closeStreams()
  }

  /** GET ServerSentEventUri (already authenticated): holds the response open and pushes events. */
  attach (req: IncomingMessage, res: ServerResponse): void {
    if (this.fault === 'refuse' || this.streams.size >= MAX_STREAMS) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
      res.end(JSON.stringify({ error: { code: 'Base.1.13.ServiceTemporarilyUnavailable', message: 'No more event streams.' } }))
      return
    }
    this.opened++
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    const stream: Stream = { res, timers: [] }
    this.streams.add(stream)
    res.on('close', () => {
      for (const timer of stream.timers) clearInterval(timer)
      this.streams.delete(stream)
    })
    res.flushHeaders()
    switch (this.fault) {
      case 'disconnect':
        res.destroy()
        return
      case 'endless_line':
        res.write('data: ')
        stream.timers.push(setInterval(() => res.write('x'.repeat(64 * 1024)), 5))
        return
      case 'garbage':
        stream.timers.push(setInterval(() => res.write('data: {"Events": [not json\n\n\u0000\u00ff\u0001 garbage without a blank line\n'), 20))
        return
      case 'slowloris':
        res.write('data: {')
        stream.timers.push(setInterval(() => res.write(' '), 1000))
        return
    }
    if (typeof req.headers['last-event-id'] === 'string') this.lastEventIdAsked = req.headers['last-event-id']
    const last = Number(req.headers['last-event-id'])
    if (Number.isInteger(last)) for (const e of this.kept) if (e.id > last) res.write(e.text)
    stream.timers.push(setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS))
  }

  close (): void {
    this.closeStreams()
  }

  private closeStreams (): void {
    for (const stream of this.streams) stream.res.destroy()
    this.streams.clear()
  }

  private publish (entry: EventEntry): void {
    const text = `id: ${entry.id}\ndata: ${JSON.stringify(this.event(entry))}\n\n`
    this.kept.push({ id: entry.id, text })
    if (this.kept.length > EVENTS_KEPT) this.kept.shift()
    if (this.fault !== 'none') return
    for (const stream of this.streams) stream.res.write(text)
  }

  /** The Redfish Event (Event.v1_7_0) of one log entry. */
  private event (e: EventEntry): Json {
    const origin = e.sensor !== undefined ? `/redfish/v1/Chassis/1/Sensors/${sensorId(e.sensor)}` : '/redfish/v1/Systems/1'
    return {
      '@odata.type': '#Event.v1_7_0.Event',
      Id: String(e.id),
      Name: 'Event',
      Context: 'OpenDCRE Redfish emulator',
      Events: [{
        MemberId: '0',
        EventId: String(e.id),
        EventTimestamp: e.created,
        Severity: e.severity,
        MessageSeverity: e.severity,
        Message: e.message,
        MessageId: messageId(e),
        MessageArgs: e.sensor !== undefined ? [e.sensor] : [],
        OriginOfCondition: { '@odata.id': origin },
        LogEntry: { '@odata.id': `/redfish/v1/Systems/1/LogServices/EventLog/Entries/${e.id}` },
        Oem: { OpenDCRE: { SensorName: e.sensor, SensorType: e.sensorType, EntryCode: e.direction === 'asserted' ? 'Assert' : 'Deassert' } }
      }]
    }
  }
}

/** The registry message of an entry (SensorEvent 1.0 for sensors). */
function messageId (e: EventEntry): string {
  if (e.sensor === undefined) return e.sensorType === 'System Event' ? 'ResourceEvent.1.0.ResourceChanged' : 'OpenDCRE.1.0.LogEntryAdded'
  if (e.severity === 'Critical') return 'SensorEvent.1.0.ReadingCritical'
  if (e.severity === 'Warning') return 'SensorEvent.1.0.ReadingWarning'
  return 'SensorEvent.1.0.SensorReadingNormalRange'
}
