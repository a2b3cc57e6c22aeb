// One reading over the last hour, with its thresholds, drawn with uPlot.
import { formatValue } from './api.js'
import { h } from './dom.js'

const HOUR_S = 3600

/** One reading over the last hour, drawn with uPlot (loaded as the page's global uPlot). */
export class Plot {
  constructor (label, unit) {
    this.label = label
    this.unit = unit
    this.xs = []
    this.ys = []
    this.el = h('div', { class: 'plot', role: 'img', 'aria-label': `${label} over the last hour: no readings yet`, dataset: { points: '0' } })
  }

  add (timestamp, value) {
    const t = Date.parse(timestamp) / 1000
    if (this.xs.length > 0 && t <= this.xs[this.xs.length - 1]) return // seen (history and stream overlap)
    this.xs.push(t)
    this.ys.push(value)
    while (this.xs.length > 0 && this.xs[0] < t - HOUR_S) { this.xs.shift(); this.ys.shift() }
    this.draw()
  }

  draw () {
    if (this.uplot === undefined) {
      if (!this.el.isConnected || this.xs.length === 0) return
      const unit = this.unit
      const UPlot = window.uPlot
      this.uplot = new UPlot({
        width: Math.max(200, this.el.clientWidth),
        height: 140,
        legend: { show: false },
        cursor: { show: false },
        // the last hour at most; a minute at least, so the first points have room
        scales: { x: { time: true, range: () => this.xRange() }, y: { range: () => this.yRange() } },
        series: [{}, { label: this.label, stroke: '#0b5cad', width: 2, points: { show: true, size: 5, fill: '#0b5cad' } },
          ...this.limits().map(([name]) => ({ label: name, stroke: name.includes('non_critical') ? '#d4a72c' : '#a40e26', width: 1, dash: [6, 4], points: { show: false } }))],
        axes: [{ stroke: '#333' }, { stroke: '#333', size: 86, values: (_u, ticks) => ticks.map((v) => `${Math.abs(v) >= 1000 ? `${+(v / 1000).toFixed(2)}k` : +v.toFixed(2)} ${unit}`) }]
      }, this.data(), this.el)
    } else {
      this.uplot.setData(this.data())
    }
    this.el.dataset.points = String(this.xs.length)
    this.el.dataset.thresholds = this.limits().map(([name, v]) => `${name}=${v}`).join(' ')
    this.el.setAttribute('aria-label', `${this.label} over the last hour: ${this.xs.length} readings, latest ${formatValue(this.ys[this.ys.length - 1], this.unit)}`)
  }

  /** The last hour at most; a minute at least, so the first points have room. */
  xRange () {
    const last = this.xs[this.xs.length - 1]
    return [Math.max(Math.min(this.xs[0], last - 60), last - HOUR_S), last + 2]
  }

  /** The sensor's warning and critical thresholds, drawn as dashed lines (non-recoverable ones left out: they squash the plot). */
  limits () {
    return Object.entries(this.thresholds ?? {}).filter(([name, v]) => typeof v === 'number' && !name.includes('recoverable')).sort()
  }

  setThresholds (thresholds) {
    const before = JSON.stringify(this.limits())
    this.thresholds = thresholds
    if (JSON.stringify(this.limits()) === before) return
    // the series change: drawn anew
    this.uplot?.destroy()
    this.uplot = undefined
    this.el.replaceChildren()
    this.draw()
  }

  data () {
    return [this.xs, this.ys, ...this.limits().map(([, v]) => this.xs.map(() => v))]
  }

  /** The values (and thresholds) with a margin; a flat line sits in the middle. */
  yRange () {
    let min = Infinity
    let max = -Infinity
    for (const y of [...this.ys, ...this.limits().map(([, v]) => v)]) { if (y < min) min = y; if (y > max) max = y }
    const pad = max > min ? (max - min) * 0.15 : Math.max(1, Math.abs(max) * 0.05)
    return [min - pad, max + pad]
  }

  destroy () { this.uplot?.destroy() }
}
