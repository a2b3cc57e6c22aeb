// The fleet: every board of every backend, its health and last contact.
// The list is virtualised (only the rows in view exist), so 1,000 boards scroll as 10 do.
import { ago, h, replace } from './dom.js'
import { BulkPower } from './bulk-power.js'

const ROW_HEIGHT = 36
const OVERSCAN = 8
const HEALTH_POLL_MS = 10_000

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
    const refilter = () => { this.scroller.scrollTop = 0; this.applyFilter() }
    this.filterText = h('input', { id: 'fleet-filter', type: 'search', placeholder: 'board id, backend, up/down', autocomplete: 'off', oninput: refilter })
    this.filterBackend = h('select', { id: 'fleet-backend', onchange: refilter }, h('option', { value: '' }, 'all backends'))
    this.filterHealth = h('select', { id: 'fleet-health', onchange: refilter },
      h('option', { value: '' }, 'any health'), h('option', { value: 'up' }, 'up'), h('option', { value: 'down' }, 'down'))
    this.summary = h('p', { id: 'fleet-summary', class: 'summary', role: 'status' }, 'Scanning…')
    this.live = h('p', { class: 'live', id: 'fleet-live' })
    this.spacer = h('div', { class: 'spacer' })
    this.scroller = h('div', { class: 'fleet-list', id: 'fleet-list', role: 'list', 'aria-label': 'Boards', onscroll: () => this.scheduleRender() }, this.spacer)
    this.bulk = new BulkPower(this)
    replace(main,
      h('h1', {}, 'Fleet'),
      this.bulk.element,
      h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
        h('label', { for: 'fleet-filter' }, 'Filter'), this.filterText,
        h('label', { for: 'fleet-backend' }, 'Backend'), this.filterBackend,
        h('label', { for: 'fleet-health' }, 'Health'), this.filterHealth),
      this.summary,
      this.live,
      h('div', { class: 'fleet-head', 'aria-hidden': 'true' },
        h('span', {}, 'Select'), h('span', {}, 'Board'), h('span', {}, 'Backend'), h('span', {}, 'Health'), h('span', {}, 'Last contact'), h('span', {}, 'Devices')),
      this.scroller)
    window.addEventListener('resize', this.onResize = () => this.scheduleRender())

    const [scan, health] = await Promise.all([this.api.call('/scan'), this.api.call('/health').catch((err) => err.body ?? null)])
    this.boards = boardsFromScanAndHealth(scan, health)
    this.byId = new Map(this.boards.map((b) => [b.board_id, b]))
    for (const backend of [...new Set(this.boards.map((b) => b.backend))].sort()) {
      this.filterBackend.append(h('option', { value: backend }, backend))
    }
    this.applyFilter()
    this.timers.push(setInterval(() => this.render(), 5000))
    this.follow()
  }

  /** Board changes from the stream; GET /health every 10 s when the service has none. */
  async follow () {
    let streamed = false
    try {
      streamed = await this.api.stream('', (type, data) => {
        if (type === 'task') this.bulk.onTask(data)
        if (type !== 'board') return
        const board = this.byId.get(data.board_id)
        if (board === undefined) return
        Object.assign(board, { backend: data.backend ?? board.backend, up: data.up, last_contact: data.last_contact })
        this.scheduleRender()
      }, this.abort.signal, () => replace(this.live, 'Live: board health streamed.'))
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
    this.shown = this.boards.filter((b) => {
      if (backend !== '' && b.backend !== backend) return false
      if (health !== '' && (health === 'up') !== b.up) return false
      const text = `${b.board_id} ${b.backend} ${b.up ? 'up' : 'down'}`.toLowerCase()
      return words.every((w) => text.includes(w))
    })
    const up = this.boards.filter((b) => b.up).length
    replace(this.summary, `${this.shown.length} of ${this.boards.length} boards shown · ${up} up, ${this.boards.length - up} down`)
    this.spacer.style.height = `${this.shown.length * ROW_HEIGHT}px`
    this.render()
  }

  scheduleRender () {
    if (this.pending) return
    this.pending = true
    requestAnimationFrame(() => { this.pending = false; this.render() })
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
      const row = h('div', { role: 'listitem', class: 'row', dataset: { board: b.board_id } },
        this.bulk.checkbox(b.board_id),
        h('a', { href: `#/board/${b.board_id}`, class: 'board-id' }, b.board_id),
        h('span', {}, b.backend),
        h('span', { class: b.up ? 'badge up' : 'badge down' }, b.up ? 'up' : 'down'),
        h('span', { title: b.last_contact ?? 'no contact yet' }, ago(b.last_contact, now)),
        h('span', {}, `${b.devices} devices`))
      row.style.transform = `translateY(${i * ROW_HEIGHT}px)`
      rows.push(row)
    }
    // keep the keyboard's place across re-renders
    const focused = this.scroller.contains(document.activeElement) ? document.activeElement.closest('[data-board]')?.dataset.board : undefined
    replace(this.scroller, this.spacer, ...rows)
    if (focused !== undefined) this.scroller.querySelector(`[data-board="${focused}"] a`)?.focus({ preventScroll: true })
  }

  destroy () {
    this.bulk?.destroy()
    this.abort.abort()
    for (const t of this.timers) clearInterval(t)
    window.removeEventListener('resize', this.onResize)
  }
}
