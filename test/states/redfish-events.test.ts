/**
 * Redfish events pushed: the project's Redfish emulator's EventService SSE
 * stream read by curl (an independent client), our subscription to it end
 * to end (fault injected -> /stream within 3 s, the LogService not read
 * meanwhile, no duplicates), hostile streams (an endless line, garbage,
 * slowloris, disconnects) that stall no other board and fall back to the
 * LogService, and the fallback for a service that offers no EventService.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadRedfishEmulatorConfig, type RedfishEmulatorConfig } from '../../emulators/redfish/emulator-config.js'
import { startRedfishEmulators, type RedfishEmulatorServer } from '../../emulators/redfish/emulator-server.js'
import { DEFAULT_REDFISH_EMULATOR_CONFIG } from '../../config/paths.js'
import { build, PREFIX } from '../helper.js'
import { makeCertificates } from '../tls-certificates.js'
import { openStream, waitFor } from './stream-client.js'

const ENTRIES = '/redfish/v1/Systems/1/LogServices/EventLog/Entries'

function emulatorConfig (extra: Partial<RedfishEmulatorConfig> = {}): RedfishEmulatorConfig {
  const base = loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG)
  return {
    ...base,
    sensor_style: 'sensors',
    sensors: base.sensors.map((s) => (s.name === 'CPU1 Temp' ? { ...s, drift: 0, thresholds: { UpperCaution: 80, UpperCritical: 90 } } : s)),
    ...extra
  }
}

async function inject (emu: RedfishEmulatorServer, faults: unknown): Promise<number> {
  return (await fetch(`${emu.url}/emulator/faults`, { method: 'POST', body: JSON.stringify(faults) })).status
}

/** OpenDCRE over the given emulators, polling readings every 0.5 s and (when off) event logs every `eventsS`. */
async function serve (t: Parameters<typeof build>[0], emus: RedfishEmulatorServer[], eventsS: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-redfish-events-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const redfishConfig = join(dir, 'redfish_config.json')
  writeFileSync(redfishConfig, JSON.stringify({ servers: emus.map((e) => ({ url: e.url, username: 'ADMIN', password: 'ADMIN', timeout_ms: 2000 })) }))
  const opendcre = join(dir, 'opendcre_config.json')
  writeFileSync(opendcre, JSON.stringify({ poll: { intervals: { redfish: { default: 0.5 } }, events_s: eventsS, jitter: 0 } }))
  const app = await build(t, { redfishConfig, config: opendcre, poller: { random: () => 0 } })
  return `${await app.listen({ host: '127.0.0.1', port: 0 })}${PREFIX}`
}

t.test('the emulator\'s SSE stream, read by curl: an Event per new log entry; Last-Event-ID replays', async (t) => {
  const [emu] = await startRedfishEmulators(emulatorConfig(), { count: 1 })
  t.teardown(async () => await emu.close())
  const service = await (await fetch(`${emu.url}/redfish/v1/EventService`, { headers: { authorization: `Basic ${Buffer.from('ADMIN:ADMIN').toString('base64')}` } })).json() as Record<string, any>
  t.match(service, { '@odata.type': /^#EventService\.v1_/, ServiceEnabled: true, EventFormatTypes: ['Event'], ServerSentEventUri: '/redfish/v1/EventService/SSE' })
  const root = await (await fetch(`${emu.url}/redfish/v1/`)).json() as Record<string, any>
  t.same(root.EventService, { '@odata.id': '/redfish/v1/EventService' }, 'the service root links it')

  const curl = (lastEventId?: string): { out: () => string, done: Promise<void> } => {
    let text = ''
    const args = ['-sN', '--max-time', '4', '-u', 'ADMIN:ADMIN', ...(lastEventId !== undefined ? ['-H', `Last-Event-ID: ${lastEventId}`] : []), `${emu.url}${String(service.ServerSentEventUri)}`]
    const child = spawn('curl', args)
    child.stdout.on('data', (chunk: Buffer) => { text += chunk.toString() })
    return { out: () => text, done: new Promise((resolve) => child.on('close', () => resolve())) }
  }
  const live = curl()
  t.ok(await waitFor(() => (emu.eventService.streamCount === 1 ? true : undefined), 3000), 'curl holds the stream open')
  t.equal(await inject(emu, { sensor_reading: { name: 'CPU1 Temp', reading: 95 } }), 204)
  const message = await waitFor(() => /id: (\d+)\ndata: (.*)\n\n/.exec(live.out()) ?? undefined, 3000)
  t.ok(message, 'an event came')
  const event = JSON.parse(message?.[2] ?? '{}')
  t.match(event, {
    '@odata.type': /^#Event\.v1_/,
    Events: [{
      EventId: message?.[1],
      EventTimestamp: /^\d{4}-\d\d-\d\dT/,
      Severity: 'Critical',
      Message: /CPU1 Temp reading 95 is past its critical threshold/,
      MessageId: 'SensorEvent.1.0.ReadingCritical',
      OriginOfCondition: { '@odata.id': '/redfish/v1/Chassis/1/Sensors/CPU1_Temp' },
      LogEntry: { '@odata.id': `${ENTRIES}/${message?.[1] ?? ''}` }
    }]
  })
  await live.done
  const replay = curl(String(Number(message?.[1]) - 1))
  await replay.done
  t.match(replay.out(), new RegExp(`^id: ${message?.[1] ?? ''}\ndata: `), 'reconnecting with Last-Event-ID: the missed event again')
  const unauthenticated = await fetch(`${emu.url}/redfish/v1/EventService/SSE`)
  t.equal(unauthenticated.status, 401, 'the stream needs credentials')
})

t.test('subscribed: a fault reaches /stream within 3 s by SSE; hostile streams stall no other board and fall back to the LogService', async (t) => {
  const emus = await startRedfishEmulators(emulatorConfig(), { count: 5 })
  t.teardown(async () => await Promise.all(emus.map(async (e) => await e.close())))
  const [good, ...hostile] = emus
  const faults = ['endless_line', 'garbage', 'slowloris', 'disconnect'] as const
  for (const [i, fault] of faults.entries()) t.equal(await inject(hostile[i], { sse_fault: fault }), 204, `sse_fault ${fault}`)
  const base = await serve(t, emus, 0.5)
  t.ok(await waitFor(() => (good.eventService.streamCount === 1 ? true : undefined), 10_000), 'subscribed to the good service')
  const stream = openStream(`${base}/stream`, 40_000)
  t.teardown(() => stream.close())
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const logReads = good.gets.get(ENTRIES) ?? 0

  const injected = Date.now()
  t.equal(await inject(good, { sensor_reading: { name: 'CPU1 Temp', reading: 95 } }), 204)
  const alert = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.kind === 'log' && e.data.board_id === '70000001'), 5000)
  t.ok(alert !== undefined && alert.at - injected < 3000, `the log alert within 3 s (${alert === undefined ? '-' : alert.at - injected} ms) while four hostile streams misbehave`)
  t.equal(good.gets.get(ENTRIES) ?? 0, logReads, 'it came without a read of the LogService')
  const events = (await (await fetch(`${base}/events/70000001`)).json()) as { events: Array<Record<string, unknown>> }
  const listed = events.events.find((e) => e.record_id === alert?.data.entry.record_id)
  t.same(alert?.data.entry, listed, 'the pushed event is the entry GET /events lists')
  const afterList = good.gets.get(ENTRIES) ?? 0
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(stream.events.filter((e) => e.event === 'alert' && e.data.kind === 'log' && e.data.board_id === '70000001').length, 1, 'reported once')
  t.equal(good.gets.get(ENTRIES) ?? 0, afterList, 'the LogService is not read while the stream is live')

  // each hostile service's stream is dropped and its LogService read instead
  const fallbacks = await waitFor(() => (hostile.every((e) => (e.gets.get(ENTRIES) ?? 0) >= 2) ? true : undefined), 25_000)
  t.ok(fallbacks, `every hostile service's LogService read (${hostile.map((e) => e.gets.get(ENTRIES) ?? 0).join(', ')})`)
  const health = await (await fetch(`${base}/health`)).json() as { backends: { redfish: { servers: Array<{ event_stream?: { state: string, reason?: string } }> } } }
  const streams = health.backends.redfish.servers.map((s) => s.event_stream)
  t.match(streams[0], { state: 'live' }, '/health: the good service\'s stream is live')
  for (const [i, fault] of faults.entries()) t.match(streams[i + 1], { state: 'off', reason: /./ }, `/health: ${fault}: off, with the reason (${streams[i + 1]?.reason ?? '-'})`)
  for (const [i, emu] of hostile.entries()) {
    const at = Date.now()
    t.equal(await inject(emu, { log_entry: { message: `fault on ${faults[i]}`, severity: 'Warning' } }), 204)
    const board = `7000000${i + 2}`
    const got = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.kind === 'log' && e.data.board_id === board && e.data.entry.event === `fault on ${faults[i]}`), 5000)
    t.ok(got !== undefined && got.at - at < 3000, `${faults[i]}: the entry came by the LogService within 3 s (${got === undefined ? '-' : got.at - at} ms)`)
    t.match(got?.data.entry, { severity: 'warning', event: `fault on ${faults[i]}` })
  }
})

t.test('the stream drops: reconnected with Last-Event-ID, what came meanwhile replayed by the service, once', async (t) => {
  const [emu] = await startRedfishEmulators(emulatorConfig(), { count: 1 })
  t.teardown(async () => await emu.close())
  const base = await serve(t, [emu], 0.5)
  t.ok(await waitFor(() => (emu.eventService.streamCount === 1 ? true : undefined), 10_000), 'subscribed')
  const stream = openStream(`${base}/stream`)
  t.teardown(() => stream.close())
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.equal(await inject(emu, { log_entry: { message: 'before the drop', severity: 'Warning' } }), 204)
  const before = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.entry?.event === 'before the drop'), 3000)
  t.ok(before, 'pushed')
  const logReads = emu.gets.get(ENTRIES) ?? 0
  // the service goes away for 400 ms; an entry is logged meanwhile (the BMC's own doing)
  t.equal(await inject(emu, { away_ms: 400 }), 204)
  await new Promise((resolve) => setTimeout(resolve, 100))
  emu.service.logEvent('while away', 'Critical', 'asserted')
  const meanwhile = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.entry?.event === 'while away'), 5000)
  t.ok(meanwhile, 'the entry logged while the stream was down arrived')
  t.equal(emu.eventService.lastEventIdAsked, before?.data.entry.record_id, 'the reconnect sent Last-Event-ID: the last event seen')
  t.equal(emu.gets.get(ENTRIES) ?? 0, logReads, 'replayed by the stream, not read from the LogService')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal(stream.events.filter((e) => e.event === 'alert' && e.data.entry?.event === 'while away').length, 1, 'once')
})

t.test('a service without an EventService: new LogService entries, no stream opened', async (t) => {
  const [emu] = await startRedfishEmulators(emulatorConfig({ event_service: false }), { count: 1 })
  t.teardown(async () => await emu.close())
  const base = await serve(t, [emu], 0.5)
  t.ok(await waitFor(() => ((emu.gets.get(ENTRIES) ?? 0) >= 2 ? true : undefined), 10_000), 'the LogService is read')
  const stream = openStream(`${base}/stream`)
  t.teardown(() => stream.close())
  await new Promise((resolve) => setTimeout(resolve, 700))
  const injected = Date.now()
  t.equal(await inject(emu, { sensor_reading: { name: 'CPU1 Temp', reading: 85 } }), 204)
  const alert = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.kind === 'log'), 5000)
  t.ok(alert !== undefined && alert.at - injected < 3000, `the log alert within 3 s (${alert === undefined ? '-' : alert.at - injected} ms)`)
  t.match(alert?.data.entry, { severity: 'warning', event: /past its caution threshold/ })
  t.equal(emu.eventService.opened, 0, 'no event stream opened')
  t.equal((await fetch(`${emu.url}/redfish/v1/EventService`, { headers: { authorization: `Basic ${Buffer.from('ADMIN:ADMIN').toString('base64')}` } })).status, 404)
})

t.test('over https: the stream is verified like any request (the custom CA: subscribed; no CA: refused)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-redfish-events-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  makeCertificates(dir)
  const tls = { cert: readFileSync(join(dir, 'server.crt')), key: readFileSync(join(dir, 'server.key')) }
  const [trusted] = await startRedfishEmulators(emulatorConfig(), { tls })
  const [untrusted] = await startRedfishEmulators(emulatorConfig(), { tls })
  t.teardown(async () => { await trusted.close(); await untrusted.close() })
  const redfishConfig = join(dir, 'redfish_config.json')
  writeFileSync(redfishConfig, JSON.stringify({ servers: [{ url: trusted.url, username: 'ADMIN', password: 'ADMIN', timeout_ms: 2000, ca: join(dir, 'ca.crt') }, { url: untrusted.url, username: 'ADMIN', password: 'ADMIN', timeout_ms: 2000 }] }))
  const opendcre = join(dir, 'opendcre_config.json')
  writeFileSync(opendcre, JSON.stringify({ poll: { intervals: { redfish: { default: 0.5 } }, events_s: 0.5, jitter: 0 } }))
  const app = await build(t, { redfishConfig, config: opendcre, poller: { random: () => 0 } })
  const base = `${await app.listen({ host: '127.0.0.1', port: 0 })}${PREFIX}`
  t.ok(await waitFor(() => (trusted.eventService.streamCount === 1 ? true : undefined), 10_000), 'subscribed over https with the custom CA')
  const stream = openStream(`${base}/stream`)
  t.teardown(() => stream.close())
  await new Promise((resolve) => setTimeout(resolve, 700))
  const injected = Date.now()
  trusted.service.logEvent('over tls', 'Critical', 'asserted')
  const alert = await waitFor(() => stream.events.find((e) => e.event === 'alert' && e.data.entry?.event === 'over tls'), 5000)
  t.ok(alert !== undefined && alert.at - injected < 3000, `pushed within 3 s (${alert === undefined ? '-' : alert.at - injected} ms)`)
  t.equal(untrusted.eventService.opened, 0, 'a certificate not verified: no stream opened')
})
