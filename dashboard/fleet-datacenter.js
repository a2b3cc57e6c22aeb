// The data center's fleet: when the service has a fleet query URL
// (fleet_query_url: Prometheus or VictoriaMetrics holding every shard), the
// fleet page lists every board of every instance from GET /fleet, each
// linking to the instance that owns it. Without one, /fleet answers
// {"source": "local"} and the page lists this instance's boards (fleet.js).
import { ago, h, replace } from './dom.js'

/** Rows in the page at once: a filter narrows the rest. */
const SHOWN_MAX = 300
const REFRESH_MS = 15_000

/** A data-center view when the service has a fleet query URL, else undefined (the caller shows its own boards). */
export async function mountDatacenter (main, ctx) {
  let fleet
  try {
    fleet = await ctx.api.call('/fleet')
  } catch (err) {
    // the query API failed (502): say so here rather than fall back silently
    if (err?.status !== 502) return undefined
    fleet = { source: 'datacenter', boards: [], error: err.message }
  }
  if (fleet?.source !== 'datacenter') return undefined
  const view = new DatacenterView(ctx)
  view.mount(main, fleet)
  return view
}

/** "61.5 °C", "212 W", or a dash. */
function unit (value, suffix) {
  return value === null || value === undefined ? '–' : `${Math.round(value * 10) / 10} ${suffix}`
}

export class DatacenterView {
  constructor (ctx) {
    this.api = ctx.api
    this.boards = []
    this.timer = undefined
  }

  mount (main, fleet) {
    this.filterText = h('input', { id: 'dc-filter', type: 'search', placeholder: 'board id, instance, up/down', autocomplete: 'off', oninput: () => this.render() })
    this.summary = h('p', { id: 'dc-summary', class: 'summary', role: 'status' })
    this.problem = h('p', { id: 'dc-problem', class: 'live' })
    this.body = h('tbody', { id: 'dc-boards' })
    replace(main,
      h('h1', {}, 'Data center'),
      h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
        h('label', { for: 'dc-filter' }, 'Filter'), this.filterText),
      this.summary,
      this.problem,
      h('table', { class: 'dc-table', 'aria-label': 'Boards of every instance' },
        h('thead', {}, h('tr', {}, ...['Board', 'Instance', 'State', 'Hottest', 'Power', 'Last seen'].map((c) => h('th', { scope: 'col' }, c)))),
        this.body))
    this.update(fleet)
    this.timer = setInterval(async () => {
      try {
        this.update(await this.api.call('/fleet'))
      } catch (err) {
        replace(this.problem, `The fleet query failed: ${err.message}`)
      }
    }, REFRESH_MS)
  }

  update (fleet) {
    if (fleet.error !== undefined) replace(this.problem, `The fleet query failed: ${fleet.error}`)
    else replace(this.problem, `From the data center's query API${fleet.at !== undefined ? `, ${ago(fleet.at)}` : ''}.`)
    if (fleet.error === undefined) this.boards = fleet.boards ?? []
    this.render()
  }

  render () {
    const words = this.filterText.value.trim().toLowerCase().split(/\s+/).filter(Boolean)
    const shown = this.boards.filter((b) => {
      const text = `${b.board_id} ${b.backend} ${b.instance} ${b.up ? 'up' : 'down'}`.toLowerCase()
      return words.every((w) => text.includes(w))
    })
    const up = this.boards.filter((b) => b.up).length
    const instances = new Set(this.boards.map((b) => b.instance)).size
    replace(this.summary, `${this.boards.length} boards on ${instances} instance${instances === 1 ? '' : 's'} · ${up} up, ${this.boards.length - up} down` +
      (shown.length > SHOWN_MAX ? ` · the first ${SHOWN_MAX} of ${shown.length} shown: filter to narrow` : ` · ${shown.length} shown`))
    const now = Date.now()
    replace(this.body, ...shown.slice(0, SHOWN_MAX).map((b) => h('tr', { dataset: { board: b.board_id, instance: b.instance } },
      h('td', {}, h('a', { href: `${b.url}/#/board/${b.board_id}`, class: 'board-id' }, b.board_id)),
      h('td', {}, h('a', { href: `${b.url}/` }, b.instance)),
      h('td', {}, h('span', { class: b.up ? 'badge up' : 'badge down' }, b.up ? 'up' : 'down')),
      h('td', {}, unit(b.temperature_c, '°C')),
      h('td', {}, unit(b.power_w, 'W')),
      h('td', { title: b.last_seen ?? 'never' }, ago(b.last_seen, now)))))
  }

  destroy () {
    clearInterval(this.timer)
  }
}
