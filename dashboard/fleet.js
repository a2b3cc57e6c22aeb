// The fleet: every board of every backend, who is in trouble first: its worst
// sensor state, hottest temperature, power draw and state, a small trend, its
// health and last contact. Rows come from one data function (loadFleet) and a
// row's cells from one render function (renderRow). The list is virtualised
// (only the rows in view exist), so 1,000 boards scroll as 10 do.
import { ago, h, replace } from './dom.js'
import { mountDatacenter } from './fleet-datacenter.js'
import { BulkPower } from './bulk-power.js'

const ROW_HEIGHT = 36
const OVERSCAN = 8
const HEALTH_POLL_MS = 10_000
const STATES_POLL_MS = 5_000
const STATE_RANK = { critical: 3, warning: 2, unknown: 1, ok: 0 }

/**
 * Boards from GET /scan, health from GET /health: a backend that lists its
 * boards (the IPMI bridge's BMCs) says how each one is; the other boards
 * (the device bus) share their backend's state.
 */
export function boardsFromScanAndHealth (scan, health) {
  const backends = health?.backends ?? {}
  const perBoard = new Map()
  const shared = []
  for (const [backend, status] of Object.entries(backends)) {
    const list = Object.values(status ?? {}).find((v) => Array.isArray(v) && v.some((item) => typeof item?.board_id === 'string'))
    if (list === undefined) {
      shared.push([backend, status])
      continue
    }
    for (const item of list) {
      perBoard.set(item.board_id, {
        backend,
        up: item.up ?? (item.session !== undefined ? item.session !== 'down' : item.reason === undefined),
        last_contact: item.last_contact ?? item.last_success ?? null
      })
    }
  }
  const [sharedName, sharedStatus] = shared[0] ?? ['unknown', {}]
  const fallback = {
    backend: sharedName,
    up: sharedStatus?.up ?? sharedStatus?.open ?? true,
    last_contact: sharedStatus?.last_contact ?? sharedStatus?.last_success ?? null
  }
  return (scan?.boards ?? []).map((board) => ({
    board_id: board.board_id,
    devices: board.devices?.length ?? 0,
    ...(perBoard.get(board.board_id) ?? fallback)
  }))
}

/** Trouble first: boards down, then critical, warning, unknown, ok; then the hottest; then by id. */
export function byTrouble (a, b) {
  return (Number(b.up === false) - Number(a.up === false)) ||
    (STATE_RANK[b.state ?? 'unknown'] - STATE_RANK[a.state ?? 'unknown']) ||
    ((b.hottest_c ?? -Infinity) - (a.hottest_c ?? -Infinity) || 0) ||
    (a.board_id < b.board_id ? -1 : a.board_id > b.board_id ? 1 : 0)
}

/** A board's state summary (GET /states) merged into its row. */
function withStates (board, summary) {
  if (summary === undefined) return board
  const { board_id: _id, backend: _backend, up, last_contact: lastContact, ...states } = summary
  return Object.assign(board, states, up === null ? {} : { up }, lastContact === null ? {} : { last_contact: lastContact })
}

/**
 * The fleet's rows: the boards (GET /scan), their health (GET /health) and
 * their states from the poller (GET /states: one request, whatever the
 * number of boards). Three requests for 1,000 boards as for 10.
 */
export async function loadFleet (api) {
  const [scan, health, states] = await Promise.all([
    api.call('/scan'),
    api.call('/health').catch((err) => err.body ?? null),
    api.call('/states').catch(() => null)
  ])
  const byId = new Map((states?.boards ?? []).map((s) => [s.board_id, s]))
  return boardsFromScanAndHealth(scan, health).map((b) => withStates(b, byId.get(b.board_id)))
}

/** A small trend line of the hottest sensor's recent readings. */
function sparkline (values) {
  if (!Array.isArray(values) || values.length < 2) return h('span', { class: 'trend' })
  const min = Math.min(...values)
  const max = Math.max(...values)
  const span = max - min || 1
  const points = values.map((v, i) => `${(i * 60 / (values.length - 1)).toFixed(1)},${(18 - (v - min) * 16 / span).toFixed(1)}`).join(' ')
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  svg.setAttribute('viewBox', '0 0 60 20')
  svg.setAttribute('class', 'trend')
  svg.setAttribute('role', 'img')
  svg.setAttribute('aria-label', `trend ${values[0]} to ${values[values.length - 1]}`)
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline')
  line.setAttribute('points', points)
  svg.append(line)
  return svg
}

/** One row's cells. */
export function renderRow (b, now) {
  const state = b.state ?? 'unknown'
  return [
    h('a', { href: `#/board/${b.board_id}`, class: 'board-id' }, b.board_id),
    h('span', {}, b.backend),
    h('span', { class: `state state-${state}`, title: b.counts === undefined ? 'no sensor judged' : `${b.counts.critical} critical, ${b.counts.warning} warning, ${b.counts.ok} ok, ${b.counts.unknown} unknown` }, state),
    h('span', { class: 'hottest' }, b.hottest_c === null || b.hottest_c === undefined ? '–' : `${b.hottest_c.toFixed(1)} °C`),
    h('span', { class: 'power-w' }, b.power_w === null || b.power_w === undefined ? '–' : `${Math.round(b.power_w)} W`),
    h('span', { class: `power-state power-${b.power_status ?? 'unknown'}` }, b.power_status ?? '–'),
    sparkline(b.trend),
    h('span', { class: b.up ? 'badge up' : 'badge down' }, b.up ? 'up' : 'down'),
    h('span', { title: b.last_contact ?? 'no contact yet' }, ago(b.last_contact, now)),
    h('span', {}, `${b.devices} devices`)
  ]
}

/** A visible, dismissable alert for a sensor that changed state or a new event log entry (the stream's `alert`). */
export function alertBanner (alert, onDismiss) {
  const severity = alert.kind === 'threshold' ? alert.state : (alert.entry?.severity ?? 'info')
  const what = alert.kind === 'threshold'
    ? `Board ${alert.board_id}: ${alert.device_info || alert.device_type} ${alert.device_id} is ${alert.state}${alert.value === null ? '' : ` (${alert.value})`}${alert.previous === null ? '' : `, was ${alert.previous}`}`
    : `Board ${alert.board_id}: ${alert.entry?.sensor ?? 'event'}: ${alert.entry?.event ?? ''}`
  const el = h('div', { class: `alert alert-${severity}`, role: 'alert', dataset: { board: alert.board_id, kind: alert.kind } },
    h('span', {}, what),
    h('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss alert', onclick: () => { el.remove(); onDismiss?.() } }, '×'))
  return el
}

export class FleetView {
  constructor (ctx) {
    this.ctx = ctx
    this.api = ctx.api
    this.boards = []
    this.shown = []
    this.abort = new AbortController()
    this.timers = []
  }

  async mount (main) {
    // a data center configured (fleet_query_url): every instance's boards instead (fleet-datacenter.js)
    this.datacenter = await mountDatacenter(main, this.ctx)
    if (this.datacenter !== undefined) return
    const refilter = () => { this.scroller.scrollTop = 0; this.applyFilter() }
    this.filterText = h('input', { id: 'fleet-filter', type: 'search', placeholder: 'board id, backend, state, up/down', autocomplete: 'off', oninput: refilter })
    this.filterBackend = h('select', { id: 'fleet-backend', onchange: refilter }, h('option', { value: '' }, 'all backends'))
    this.filterHealth = h('select', { id: 'fleet-health', onchange: refilter },
      h('option', { value: '' }, 'any health'), h('option', { value: 'up' }, 'up'), h('option', { value: 'down' }, 'down'))
    this.filterState = h('select', { id: 'fleet-state', onchange: refilter },
      h('option', { value: '' }, 'any state'), h('option', { value: 'warning' }, 'warning or worse'), h('option', { value: 'critical' }, 'critical'))
    this.summary = h('p', { id: 'fleet-summary', class: 'summary', role: 'status' }, 'Scanning…')
    this.live = h('p', { class: 'live', id: 'fleet-live' })
    this.alerts = h('div', { id: 'alerts', class: 'alerts', 'aria-live': 'assertive' })
    this.spacer = h('div', { class: 'spacer' })
    this.scroller = h('div', { class: 'fleet-list', id: 'fleet-list', role: 'list', 'aria-label': 'Boards', onscroll: () => this.scheduleRender() }, this.spacer)
    this.bulk = new BulkPower(this)
    replace(main,
      h('h1', {}, 'Fleet'),
      this.alerts,
      this.bulk.element,
      h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
        h('label', { for: 'fleet-filter' }, 'Filter'), this.filterText,
        h('label', { for: 'fleet-backend' }, 'Backend'), this.filterBackend,
        h('label', { for: 'fleet-health' }, 'Health'), this.filterHealth,
        h('label', { for: 'fleet-state' }, 'State'), this.filterState),
      this.summary,
      this.live,
      h('div', { class: 'fleet-head', 'aria-hidden': 'true' },
        h('span', {}, 'Select'), h('span', {}, 'Board'), h('span', {}, 'Backend'), h('span', {}, 'State'), h('span', {}, 'Hottest'), h('span', {}, 'Power'),
        h('span', {}, 'Power state'), h('span', {}, 'Trend'), h('span', {}, 'Health'), h('span', {}, 'Last contact'), h('span', {}, 'Devices')),
      this.scroller)
    window.addEventListener('resize', this.onResize = () => this.scheduleRender())

    this.boards = await loadFleet(this.api)
    this.byId = new Map(this.boards.map((b) => [b.board_id, b]))
    for (const backend of [...new Set(this.boards.map((b) => b.backend))].sort()) {
      this.filterBackend.append(h('option', { value: backend }, backend))
    }
    this.applyFilter()
    this.timers.push(setInterval(() => this.render(), 5000))
    this.timers.push(setInterval(() => this.refreshStates(), STATES_POLL_MS))
    this.follow()
  }

  /** States again from GET /states (one request for the whole fleet). */
  async refreshStates () {
    if (this.refreshing) return
    this.refreshing = true
    try {
      const states = await this.api.call('/states').catch(() => null)
      for (const s of states?.boards ?? []) {
        const board = this.byId.get(s.board_id)
        if (board !== undefined) withStates(board, s)
      }
      this.applyFilter()
    } finally {
      this.refreshing = false
    }
  }

  /** Board changes and alerts from the stream; GET /health every 10 s when the service has none. */
  async follow () {
    let streamed = false
    try {
      streamed = await this.api.stream('', (type, data) => {
        if (type === 'task') this.bulk.onTask(data)
        if (type === 'alert') {
          this.alerts.prepend(alertBanner(data))
          while (this.alerts.childElementCount > 5) this.alerts.lastElementChild.remove()
          if (data.kind === 'threshold') this.refreshStates()
          return
        }
        if (type !== 'board') return
        const board = this.byId.get(data.board_id)
        if (board === undefined) return
        Object.assign(board, { backend: data.backend ?? board.backend, up: data.up, last_contact: data.last_contact })
        this.scheduleRender()
      }, this.abort.signal, () => replace(this.live, 'Live: board health and alerts streamed.'))
    } catch { /* fall back to polling */ }
    if (this.abort.signal.aborted) return
    if (!streamed) replace(this.live, `Health refreshed every ${HEALTH_POLL_MS / 1000} s (this service has no event stream).`)
    this.timers.push(setInterval(async () => {
      try {
        const health = await this.api.call('/health').catch(() => null)
        if (health === null) return
        for (const fresh of boardsFromScanAndHealth({ boards: this.boards.map((b) => ({ board_id: b.board_id })) }, health)) {
          const board = this.byId.get(fresh.board_id)
          Object.assign(board, { up: fresh.up, last_contact: fresh.last_contact })
        }
        this.applyFilter()
      } catch { /* try again next time */ }
    }, HEALTH_POLL_MS))
  }

  applyFilter () {
    const words = this.filterText.value.trim().toLowerCase().split(/\s+/).filter(Boolean)
    const backend = this.filterBackend.value
    const health = this.filterHealth.value
    const minState = this.filterState.value
    this.shown = this.boards.filter((b) => {
      if (backend !== '' && b.backend !== backend) return false
      if (health !== '' && (health === 'up') !== b.up) return false
      if (minState !== '' && b.up !== false && STATE_RANK[b.state ?? 'unknown'] < STATE_RANK[minState]) return false
      const text = `${b.board_id} ${b.backend} ${b.up ? 'up' : 'down'} ${b.state ?? 'unknown'}`.toLowerCase()
      return words.every((w) => text.includes(w))
    })
    this.shown.sort(byTrouble)
    const up = this.boards.filter((b) => b.up).length
    const trouble = this.boards.filter((b) => b.state === 'critical' || b.state === 'warning').length
    replace(this.summary, `${this.shown.length} of ${this.boards.length} boards shown · ${up} up, ${this.boards.length - up} down · ${trouble} in warning or worse`)
    this.spacer.style.height = `${this.shown.length * ROW_HEIGHT}px`
    this.render()
  }

  scheduleRender () {
    if (this.pending) return
    this.pending = true
    window.requestAnimationFrame(() => { this.pending = false; this.render() })
  }

  /** Only the rows in view (and a few around them) exist in the page. */
  render () {
    const top = this.scroller.scrollTop
    const height = this.scroller.clientHeight || 600
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN)
    const last = Math.min(this.shown.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN)
    const now = Date.now()
    const rows = []
    for (let i = first; i < last; i++) {
      const b = this.shown[i]
      const row = h('div', { role: 'listitem', class: `row trouble-${b.state ?? 'unknown'}`, dataset: { board: b.board_id, state: b.state ?? 'unknown' } }, this.bulk.checkbox(b.board_id), renderRow(b, now))
      row.style.transform = `translateY(${i * ROW_HEIGHT}px)`
      rows.push(row)
    }
    // keep the keyboard's place across re-renders
    const focused = this.scroller.contains(document.activeElement) ? document.activeElement.closest('[data-board]')?.dataset.board : undefined
    replace(this.scroller, this.spacer, ...rows)
    if (focused !== undefined) this.scroller.querySelector(`[data-board="${focused}"] a`)?.focus({ preventScroll: true })
  }

  destroy () {
    this.datacenter?.destroy()
    this.bulk?.destroy()
    this.abort.abort()
    for (const t of this.timers) clearInterval(t)
    window.removeEventListener('resize', this.onResize)
  }
}
