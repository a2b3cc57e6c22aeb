// The public API, as curl uses it: same URLs, same credentials, same roles.
import { createParser } from './vendor/eventsource-parser.js'

const STORAGE_KEY = 'opendcre.authorization'

/** An answer other than 2xx; `status` is the HTTP status, `message` the API's {"message"}. */
class ApiError extends Error {
  constructor (status, message, body = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.body = body
  }
}

export class Api {
  constructor (base) {
    this.base = base
    this.authorization = sessionStorage.getItem(STORAGE_KEY)
    /** Called when the service asks for credentials (401). */
    this.onUnauthorized = () => {}
  }

  /** Basic (user and password) or bearer (token) credentials for every later call, kept for this tab only. */
  login ({ user, password, token }) {
    this.authorization = token !== undefined && token !== ''
      ? `Bearer ${token}`
      : `Basic ${btoa(String.fromCodePoint(...new TextEncoder().encode(`${user}:${password}`)))}`
    sessionStorage.setItem(STORAGE_KEY, this.authorization)
  }

  logout () {
    this.authorization = null
    sessionStorage.removeItem(STORAGE_KEY)
  }

  headers () {
    return this.authorization === null ? {} : { authorization: this.authorization }
  }

  /**
   * One command. credentials: 'omit' keeps the browser from prompting on a
   * Basic challenge: the page asks for credentials itself.
   */
  async call (path, { method = 'GET', signal } = {}) {
    const response = await fetch(this.base + path, { method, headers: this.headers(), credentials: 'omit', cache: 'no-store', signal })
    let body = null
    try { body = await response.json() } catch { /* not JSON */ }
    if (response.status === 401) this.onUnauthorized()
    if (!response.ok) throw new ApiError(response.status, body?.message ?? `HTTP ${response.status}`, body)
    return body
  }

  /**
   * GET /stream as Server-Sent Events over fetch (EventSource cannot send an
   * Authorization header). Resolves false at once if the service has no
   * stream (404); otherwise calls onEvent(type, data) until the stream ends
   * or signal aborts, then resolves true. onOpen() once connected.
   */
  async stream (query, onEvent, signal, onOpen = () => {}) {
    const response = await fetch(`${this.base}/stream${query}`, {
      headers: { ...this.headers(), accept: 'text/event-stream' }, credentials: 'omit', cache: 'no-store', signal
    })
    if (response.status === 401) this.onUnauthorized()
    if (!response.ok || response.body === null) {
      await response.body?.cancel()
      if (response.status === 404) return false
      throw new ApiError(response.status, `stream: HTTP ${response.status}`)
    }
    onOpen()
    const parser = createParser({
      onEvent: (event) => {
        let data
        try { data = JSON.parse(event.data) } catch { return }
        onEvent(event.event ?? 'message', data)
      }
    })
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        parser.feed(value)
      }
    } catch (err) {
      if (signal?.aborted !== true) throw err
    }
    return true
  }
}

/** Units by the reading's field name, as the API writes them. */
const UNITS = {
  temperature_c: '°C',
  speed_rpm: 'RPM',
  voltage: 'V',
  input_voltage: 'V',
  current: 'A',
  output_current: 'A',
  power: 'W',
  power_w: 'W',
  input_power: 'W',
  humidity: '%',
  speed_percent: '%',
  percent: '%',
  energy_kwh: 'kWh',
  frequency_hz: 'Hz',
  pressure_kpa: 'kPa',
  flow_lpm: 'L/min'
}

const LABELS = {
  temperature_c: 'temperature',
  speed_rpm: 'fan speed',
  input_voltage: 'input voltage',
  output_current: 'output current',
  input_power: 'input power',
  power_w: 'power',
  speed_percent: 'fan speed',
  energy_kwh: 'energy',
  frequency_hz: 'frequency',
  pressure_kpa: 'pressure',
  flow_lpm: 'liquid flow'
}

/** The numeric fields of a reading that have a unit: [{key, label, value, unit}]. */
export function measurements (reading) {
  const out = []
  if (reading === null || typeof reading !== 'object') return out
  for (const [key, value] of Object.entries(reading)) {
    if (typeof value === 'number' && Object.hasOwn(UNITS, key)) out.push({ key, label: LABELS[key] ?? key, value, unit: UNITS[key] })
  }
  return out
}

/** A value with its unit, rounded as a person reads it. */
export function formatValue (value, unit) {
  const digits = unit === 'RPM' ? 0 : unit === '°C' ? 1 : 2
  return `${value.toFixed(digits)} ${unit}`
}
