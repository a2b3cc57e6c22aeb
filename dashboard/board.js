// A board: its devices with live readings, plots over the last hour, controls, events.
import { formatValue, measurements } from './api.js'
import { ago, h, replace } from './dom.js'
import { alertBanner, boardsFromScanAndHealth } from './fleet.js'
import { Plot } from './plot.js'

const POLL_MS = 3000
/** A stream this long without a reading for the board: the service is not polling it, so the page reads. */
const QUIET_MS = 20_000
const BOOT_TARGETS = ['pxe', 'hdd', 'no_override']

/** What every device card has: a title, a message line, controls an operator may use. */
class Card {
  constructor (view, device, title) {
    this.view = view
    this.device = device
    this.message = h('p', { class: 'message', role: 'status' })
    this.body = h('div', { class: 'card-body' })
    this.el = h('section', { class: `card ${device.device_type}`, 'aria-labelledby': `title-${device.device_id}`, dataset: { device: device.device_id, type: device.device_type } },
      h('h3', { id: `title-${device.device_id}` }, title, ' ', h('span', { class: 'device-id' }, device.device_id)),
      this.body,
      this.message)
  }

  say (text, error = false) {
    this.message.classList.toggle('error', error)
    replace(this.message, text)
  }

  /** A control button: disabled, with the reason, when the caller may not change state. */
  button (label, onclick, extra = {}) {
    const allowed = this.view.ctx.canOperate()
    return h('button', {
      type: 'button',
      ...extra,
      disabled: !allowed,
      title: allowed ? undefined : this.view.ctx.denyReason(),
      'aria-describedby': allowed ? undefined : 'viewer-note',
      onclick
    }, label)
  }

  /** A state-changing command through the API (POST, the caller's credentials): the card shows the answer. */
  async command (path, describe) {
    const buttons = [...this.el.querySelectorAll('button, select, input')]
    for (const b of buttons) b.disabled = true
    this.say('…')
    try {
      const answer = await this.view.api.call(path, { method: 'POST' })
      this.apply(answer, new Date().toISOString())
      this.say(describe(answer))
    } catch (err) {
      this.say(`Refused: ${err.message}`, true)
    } finally {
      for (const b of buttons) b.disabled = !this.view.ctx.canOperate()
    }
  }

  apply () {}
}

/** A sensor read with GET /read/<type>/<board>/<device>: value, unit, plot; fan speed settable. */
class SensorCard extends Card {
  constructor (view, device) {
    super(view, device, device.device_info !== undefined && device.device_info !== '' ? device.device_info : device.device_type.replace('_', ' '))
    this.value = h('p', { class: 'value', dataset: { testid: 'reading' } }, '—')
    this.updated = h('p', { class: 'updated' }, 'no reading yet')
    this.body.append(this.value, this.updated)
    if (device.device_type === 'fan_speed') {
      const id = `rpm-${device.device_id}`
      this.rpm = h('input', { id, type: 'number', min: 0, max: 10000, step: 100, value: 4000, disabled: !view.ctx.canOperate() })
      this.body.append(h('form', { class: 'control', onsubmit: (e) => { e.preventDefault(); this.setSpeed() } },
        h('label', { for: id }, 'Fan speed (RPM)'), this.rpm,
        this.button('Set speed', () => this.setSpeed())))
    }
  }

  readPath () { return `/read/${this.device.device_type}/${this.view.boardId}/${this.device.device_id}` }

  apply (reading, timestamp) {
    const [m] = measurements(reading)
    if (m === undefined) return
    replace(this.value, formatValue(m.value, m.unit))
    this.timestamp = timestamp
    this.refreshAge()
    if (this.plot === undefined) {
      this.plot = new Plot(m.label, m.unit)
      this.plot.thresholds = this.thresholds
      this.body.insertBefore(this.plot.el, this.updated.nextSibling)
    }
    this.plot.add(timestamp, m.value)
  }

  /** Its state against its thresholds (GET /states, the stream's alerts): the value coloured, the thresholds on the plot. */
  setState (state, thresholds) {
    this.value.className = `value reading-${state}`
    this.value.dataset.state = state
    this.value.title = state
    if (thresholds !== undefined) {
      this.thresholds = thresholds
      this.plot?.setThresholds(thresholds)
    }
  }

  refreshAge () {
    if (this.timestamp !== undefined) replace(this.updated, `updated ${ago(this.timestamp)}`)
  }

  setSpeed () {
    if (!this.view.ctx.canOperate()) return
    const rpm = Math.round(Number(this.rpm.value))
    return this.command(`/fan/${this.view.boardId}/${this.device.device_id}/${rpm}`, (a) => `Fan set; it reports ${a.speed_rpm} RPM`)
  }
}

/** GET /power/<board>/<device>: status, voltage, current, power; on, off, cycle (off and cycle confirmed). */
class PowerCard extends Card {
  constructor (view, device) {
    super(view, device, 'power')
    this.status = h('p', { class: 'value', dataset: { testid: 'power-status' } }, '—')
    this.details = h('dl', { class: 'details' })
    this.body.append(this.status, this.details, h('div', { class: 'control' },
      this.button('Power on', () => this.act('on')),
      this.button('Power off', () => this.act('off'), { class: 'danger' }),
      this.button('Power cycle', () => this.act('cycle'), { class: 'danger' })))
  }

  apply (reading) {
    if (typeof reading?.power_status !== 'string') return
    replace(this.status, reading.power_status)
    this.status.className = `value power-${reading.power_status}`
    const rows = measurements(reading).map((m) => [m.label, formatValue(m.value, m.unit)])
    if (typeof reading.power_ok === 'boolean') rows.push(['power ok', reading.power_ok ? 'yes' : 'no'])
    if (reading.over_current === true) rows.push(['over current', 'yes'])
    if (reading.under_voltage === true) rows.push(['under voltage', 'yes'])
    replace(this.details, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
  }

  async act (action) {
    if (!this.view.ctx.canOperate()) return
    if (action !== 'on') {
      const ok = await this.view.ctx.confirm(
        `Power ${action} board ${this.view.boardId}, device ${this.device.device_id}?`,
        action === 'off' ? 'The machine loses power now.' : 'The machine is switched off and on again.',
        `Power ${action}`)
      if (!ok) { this.say(`Power ${action} cancelled.`); return }
    }
    await this.command(`/power/${this.view.boardId}/${this.device.device_id}/${action}`, (a) => `Power ${action}: it reports ${a.power_status}`)
  }
}

/** GET /led/<board>/<device>: the identify LED, on or off. */
class LedCard extends Card {
  constructor (view, device) {
    super(view, device, 'LED')
    this.state = h('p', { class: 'value', dataset: { testid: 'led-state' } }, '—')
    this.body.append(this.state, h('div', { class: 'control' },
      this.button('LED on', () => this.set('on')),
      this.button('LED off', () => this.set('off'))))
  }

  apply (reading) {
    if (typeof reading?.led_state !== 'string') return
    replace(this.state, reading.led_state)
    this.state.className = `value led-${reading.led_state}`
  }

  set (state) {
    if (!this.view.ctx.canOperate()) return
    return this.command(`/led/${this.view.boardId}/${this.device.device_id}/${state}`, (a) => `LED set ${state}; it reports ${a.led_state}`)
  }
}

/** Flatten the string and number leaves of an answer ({board_info: {manufacturer: ...}}) for a <dl>. */
function leaves (obj, prefix = '') {
  const out = []
  for (const [k, v] of Object.entries(obj ?? {})) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(...leaves(v, `${prefix}${k.replace(/_/g, ' ')} · `))
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push([`${prefix}${k.replace(/_/g, ' ')}`, String(v)])
  }
  return out
}

/** GET /asset and /boot_target: what the machine is and what it boots from. */
class SystemCard extends Card {
  constructor (view, device) {
    super(view, device, 'system')
    this.asset = h('dl', { class: 'details' }, h('dt', {}, 'asset'), h('dd', {}, '…'))
    this.target = h('p', { class: 'value', dataset: { testid: 'boot-target' } }, '—')
    const id = `boot-${device.device_id}`
    this.select = h('select', { id, disabled: !view.ctx.canOperate() }, BOOT_TARGETS.map((t) => h('option', { value: t }, t)))
    // the identify LED, where the system device has one (an IPMI BMC's chassis identify)
    this.led = h('p', { class: 'value', dataset: { testid: 'led-state' } }, '—')
    this.ledBox = h('div', { hidden: true }, h('h4', {}, 'Identify LED'), this.led, h('div', { class: 'control' },
      this.button('LED on', () => this.setLed('on')),
      this.button('LED off', () => this.setLed('off'))))
    this.body.append(
      this.ledBox,
      h('h4', {}, 'Boot target'), this.target,
      h('div', { class: 'control' }, h('label', { for: id }, 'Boot from'), this.select, this.button('Set boot target', () => this.setTarget())),
      h('h4', {}, 'Asset'), this.asset)
  }

  async load () {
    const b = this.view.boardId
    const d = this.device.device_id
    const [asset, target] = await Promise.allSettled([this.view.api.call(`/asset/${b}/${d}`), this.view.api.call(`/boot_target/${b}/${d}`)])
    if (asset.status === 'fulfilled') replace(this.asset, leaves(asset.value).slice(0, 16).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
    else replace(this.asset, h('dt', {}, 'asset'), h('dd', {}, `unavailable: ${asset.reason.message}`))
    if (target.status === 'fulfilled') {
      this.apply(target.value)
    } else {
      this.target.className = 'unavailable'
      replace(this.target, `unavailable: ${target.reason.message}`)
    }
  }

  apply (answer) {
    if (typeof answer?.led_state === 'string') {
      this.ledBox.hidden = false
      replace(this.led, answer.led_state)
      this.led.className = `value led-${answer.led_state}`
    }
    if (typeof answer?.target !== 'string') return
    this.target.className = 'value'
    replace(this.target, answer.target)
    if (BOOT_TARGETS.includes(answer.target)) this.select.value = answer.target
  }

  setLed (state) {
    if (!this.view.ctx.canOperate()) return
    return this.command(`/led/${this.view.boardId}/${this.device.device_id}/${state}`, (a) => `LED set ${state}; it reports ${a.led_state}`)
  }

  setTarget () {
    if (!this.view.ctx.canOperate()) return
    const target = this.select.value
    return this.command(`/boot_target/${this.view.boardId}/${this.device.device_id}/${target}`, (a) => `Boot target set; it reports ${a.target}`)
  }
}

/**
 * A device of type power is the board's power control on the device bus; on
 * the IPMI bridge (boards 4xxxxxxx) and Redfish (7xxxxxxx) only device 0100 is,
 * the others are sensors in watts (as the poller treats them: docs/monitoring.md).
 */
export function isPowerControl (boardId, device) {
  return device.device_type === 'power' && (device.device_id === '0100' || !/^[47]/.test(boardId))
}

function cardFor (view, device) {
  if (isPowerControl(view.boardId, device)) return new PowerCard(view, device)
  switch (device.device_type) {
    case 'led': return new LedCard(view, device)
    case 'system': return new SystemCard(view, device)
    default: return new SensorCard(view, device)
  }
}

export class BoardView {
  constructor (ctx, boardId) {
    this.ctx = ctx
    this.api = ctx.api
    this.boardId = boardId
    this.abort = new AbortController()
    this.timers = []
    this.cards = new Map()
  }

  async mount (main) {
    this.health = h('dl', { class: 'board-facts' })
    this.live = h('p', { class: 'live', id: 'board-live', role: 'status' }, 'Connecting…')
    this.grid = h('div', { class: 'cards' })
    this.location = h('dl', { class: 'details' })
    this.events = h('div', { id: 'events' }, '…')
    this.alerts = h('div', { id: 'alerts', class: 'alerts', 'aria-live': 'assertive' })
    replace(main,
      h('p', {}, h('a', { href: '#/' }, '← Fleet')),
      h('h1', {}, 'Board ', h('span', { class: 'mono' }, this.boardId)),
      this.alerts,
      this.health,
      this.live,
      h('h2', {}, 'Devices'),
      this.grid,
      h('h2', {}, 'Location'), this.location,
      h('h2', {}, 'Events'), this.events)

    const scan = await this.api.call(`/scan/${this.boardId}`)
    const board = scan.boards?.[0] ?? { devices: [] }
    for (const device of board.devices) {
      const card = cardFor(this, device)
      this.cards.set(device.device_id, card)
      this.grid.append(card.el)
    }
    this.loadFacts()
    this.loadEvents()
    for (const card of this.cards.values()) if (card instanceof SystemCard) card.load()
    this.timers.push(setInterval(() => { for (const c of this.sensors()) c.refreshAge() }, 1000))
    await this.loadHistory()
    this.loadStates()
    this.timers.push(setInterval(() => this.loadStates(), 5000))
    this.follow()
  }

  /** Each sensor's state and thresholds from GET /states/<board> (the poller's, no hardware traffic). */
  async loadStates () {
    try {
      const states = await this.api.call(`/states/${this.boardId}`, { signal: this.abort.signal })
      for (const s of states.sensors ?? []) this.cards.get(s.device_id)?.setState?.(s.state, s.thresholds)
    } catch { /* no states here */ }
  }

  sensors () { return [...this.cards.values()].filter((c) => c instanceof SensorCard) }

  async loadFacts () {
    const [health, version, location] = await Promise.allSettled([
      this.api.call('/health').catch((err) => { if (err.body?.backends !== undefined) return err.body; throw err }),
      this.api.call(`/version/${this.boardId}`),
      this.api.call(`/location/${this.boardId}`)
    ])
    const facts = health.status === 'fulfilled' ? boardsFromScanAndHealth({ boards: [{ board_id: this.boardId }] }, health.value)[0] : undefined
    this.showFacts(facts, version.status === 'fulfilled' ? version.value.firmware_version : undefined)
    if (location.status === 'fulfilled') replace(this.location, leaves(location.value).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
    else replace(this.location, h('dt', {}, 'location'), h('dd', {}, `unavailable: ${location.reason.message}`))
  }

  showFacts (facts, firmware) {
    if (facts !== undefined) this.facts = { ...this.facts, ...facts }
    if (firmware !== undefined) this.firmware = firmware
    const f = this.facts ?? {}
    replace(this.health,
      h('dt', {}, 'backend'), h('dd', {}, f.backend ?? '—'),
      h('dt', {}, 'health'), h('dd', {}, h('span', { class: f.up === false ? 'badge down' : 'badge up', dataset: { testid: 'board-health' } }, f.up === false ? 'down' : 'up')),
      h('dt', {}, 'last contact'), h('dd', { title: f.last_contact ?? '' }, ago(f.last_contact)),
      h('dt', {}, 'firmware'), h('dd', {}, this.firmware ?? '—'))
  }

  /** GET /events/<board> where the backend keeps a log (an IPMI BMC's SEL), newest first; "no events" otherwise. */
  async loadEvents () {
    try {
      const answer = await this.api.call(`/events/${this.boardId}`)
      const list = Array.isArray(answer) ? answer : (answer?.events ?? [])
      if (list.length === 0) { replace(this.events, h('p', {}, 'no events')); return }
      replace(this.events, h('ol', { class: 'events', reversed: true }, list.slice(-200).reverse().map((e) => h('li', {},
        h('time', { datetime: e.time ?? undefined }, e.time ?? 'time unknown'), ' ',
        e.severity !== undefined ? h('span', { class: `severity severity-${e.severity}` }, e.severity) : null, ' ',
        e.sensor !== undefined ? `${e.sensor}: ` : '',
        e.event ?? e.message ?? JSON.stringify(e),
        e.direction === 'deasserted' ? ' (ended)' : '',
        typeof e.reading === 'number' ? ` — reading ${e.reading}${typeof e.threshold === 'number' ? `, threshold ${e.threshold}` : ''}` : ''))))
    } catch {
      replace(this.events, h('p', {}, 'no events'))
    }
  }

  /** The last hour from GET /history, when the service keeps it (404: the plots start now). */
  async loadHistory () {
    await Promise.all(this.sensors().map(async (card) => {
      try {
        const history = await this.api.call(`/history/${this.boardId}/${card.device.device_id}`, { signal: this.abort.signal })
        for (const r of history.readings ?? []) card.apply(r.reading, r.timestamp)
      } catch { /* no history here */ }
    }))
  }

  /** Readings pushed by GET /stream?board_id=; polling reads when the service has no stream. */
  async follow () {
    this.timers.push(setInterval(() => {
      // the stream is open but quiet (a service started with --no-poll): read, accepting the poller's value when fresh
      // (the page's own reads then come back on the stream too: once quiet, it keeps reading)
      if (this.quiet !== true && this.streamOpenAt !== undefined && Date.now() - Math.max(this.streamOpenAt, this.lastStreamed ?? 0) > QUIET_MS) {
        this.quiet = true
        replace(this.live, `Live: no readings streamed for this board (is the service polling?); reading the sensors every ${POLL_MS / 1000} s.`)
      }
      if (this.quiet === true) this.poll(POLL_MS / 1000)
    }, POLL_MS))
    for (;;) {
      let streamed = false
      try {
        streamed = await this.api.stream(`?board_id=${encodeURIComponent(this.boardId)}`, (type, data) => {
          if (type === 'reading' && data.board_id === this.boardId) {
            this.lastStreamed = Date.now()
            this.cards.get(data.device_id)?.apply(data.reading, data.timestamp)
          } else if (type === 'alert' && data.board_id === this.boardId) {
            this.alerts.prepend(alertBanner(data))
            if (data.kind === 'threshold') this.cards.get(data.device_id)?.setState?.(data.state, data.thresholds)
            else this.loadEvents()
          } else if (type === 'board' && data.board_id === this.boardId) {
            this.showFacts({ backend: data.backend, up: data.up, last_contact: data.last_contact })
          }
        }, this.abort.signal, () => {
          this.streamOpenAt = Date.now()
          replace(this.live, 'Live: readings streamed as the service polls the hardware.')
          // a sensor the poller has not read yet is read once (its answer is the poller's when fresh)
          setTimeout(() => this.poll(60, (card) => card.timestamp === undefined), 1500)
        })
        this.streamOpenAt = undefined
        if (streamed && !this.abort.signal.aborted) replace(this.live, 'Live: the stream ended; reconnecting…')
      } catch {
        if (!this.abort.signal.aborted) replace(this.live, 'Live: the stream failed; reconnecting…')
        streamed = true
      }
      if (this.abort.signal.aborted) return
      if (!streamed) break
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
    replace(this.live, `Live: reading the sensors every ${POLL_MS / 1000} s (this service has no event stream).`)
    // without the stream, power and LED are read once (and after each command)
    for (const card of this.cards.values()) {
      if (card instanceof PowerCard) this.api.call(`/power/${this.boardId}/${card.device.device_id}`).then((a) => card.apply(a), (err) => card.say(`unavailable: ${err.message}`, true))
      if (card instanceof SystemCard) this.api.call(`/led/${this.boardId}/${card.device.device_id}`).then((a) => card.apply(a), () => {})
      if (card instanceof LedCard) this.api.call(`/led/${this.boardId}/${card.device.device_id}`).then((a) => card.apply(a), (err) => card.say(`unavailable: ${err.message}`, true))
    }
    this.poll()
    this.timers.push(setInterval(() => this.poll(), POLL_MS))
  }

  /** Reads the sensors (those `which` picks); maxAge: accept the poller's value up to that many seconds old. */
  async poll (maxAge, which = () => true) {
    if (this.polling || this.abort.signal.aborted) return
    this.polling = true
    const query = maxAge === undefined ? '' : `?max_age=${maxAge}`
    try {
      await Promise.all(this.sensors().filter(which).map(async (card) => {
        try {
          const reading = await this.api.call(card.readPath() + query, { signal: this.abort.signal })
          card.apply(reading, new Date().toISOString())
          if (card.message.classList.contains('error')) card.say('')
        } catch (err) {
          if (!this.abort.signal.aborted) card.say(`read failed: ${err.message}`, true)
        }
      }))
    } finally {
      this.polling = false
    }
  }

  destroy () {
    this.abort.abort()
    for (const t of this.timers) clearInterval(t)
    for (const c of this.cards.values()) c.plot?.destroy()
  }
}
