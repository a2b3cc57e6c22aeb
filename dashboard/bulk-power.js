// Bulk power from the fleet page: select boards, choose an action and a
// stagger policy, confirm (the dialog states the count and the policy), then
// follow the task live (the stream's `task` events, GET /tasks/<id> as well).
import { h, replace } from './dom.js'

const TASK_POLL_MS = 1000

/** The confirmation's words: what will happen to how many boards, under which policy. */
export function describePlan (action, count, maxConcurrent, intervalMs) {
  const boards = `${count} board${count === 1 ? '' : 's'}`
  const title = action === 'status' ? `Read the power state of ${boards}?` : `Power ${action} ${boards}?`
  const text = `At most ${maxConcurrent} switching at once, at least ${intervalMs} ms between starts; ` +
    'boards already in the requested state are left alone, and each board counts as done only when its power state reads back.'
  return { title, text, ok: action === 'status' ? `Read ${boards}` : `Power ${action} ${boards}` }
}

/** "12 of 40 confirmed · 1 failed · 3 switching" */
export function describeProgress (task) {
  const parts = [`${task.confirmed} of ${task.total} confirmed`]
  if (task.failed > 0) parts.push(`${task.failed} failed`)
  if (task.switching > 0) parts.push(`${task.switching} switching`)
  if (task.pending > 0) parts.push(`${task.pending} pending`)
  if (task.cancelled > 0) parts.push(`${task.cancelled} cancelled`)
  const state = task.state === 'running' ? 'running' : task.state === 'done' ? 'done' : 'cancelled'
  return `Task ${state}: ${parts.join(' · ')}`
}

export class BulkPower {
  /** view: the fleet view (its ctx, and shown: the boards the filters show). */
  constructor (view) {
    this.view = view
    this.ctx = view.ctx
    this.selected = new Set()
    this.taskId = undefined
    /** The latest stream event of tasks the page does not know yet (a task's first events can beat its POST's answer), a few at most. */
    this.early = new Map()
    this.timer = undefined
    this.count = h('span', { id: 'bulk-count' }, '0 selected')
    this.action = h('select', { id: 'bulk-action' },
      h('option', { value: 'on' }, 'on'), h('option', { value: 'off' }, 'off'), h('option', { value: 'cycle' }, 'cycle'), h('option', { value: 'status' }, 'status'))
    this.maxConcurrent = h('input', { id: 'bulk-max', type: 'number', min: 1, max: 1000, value: 16, size: 5 })
    this.interval = h('input', { id: 'bulk-interval', type: 'number', min: 0, max: 600000, value: 0, size: 6 })
    this.start = h('button', { id: 'bulk-start', type: 'button', onclick: () => this.run() }, 'Start…')
    this.cancel = h('button', { id: 'bulk-cancel', type: 'button', hidden: true, onclick: () => this.stop() }, 'Cancel task')
    this.progress = h('p', { id: 'bulk-progress', class: 'summary', role: 'status', 'aria-live': 'polite' })
    this.failures = h('ul', { id: 'bulk-failures', class: 'bulk-failures' })
    const operator = this.ctx.canOperate()
    this.element = h('section', { class: 'bulk', 'aria-labelledby': 'bulk-title' },
      h('h2', { id: 'bulk-title' }, 'Bulk power'),
      h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() },
        this.count,
        h('button', { type: 'button', id: 'bulk-select-shown', onclick: () => this.selectShown() }, 'Select shown'),
        h('button', { type: 'button', id: 'bulk-clear', onclick: () => this.clear() }, 'Clear'),
        h('label', { for: 'bulk-action' }, 'Action'), this.action,
        h('label', { for: 'bulk-max' }, 'At most at once'), this.maxConcurrent,
        h('label', { for: 'bulk-interval' }, 'ms between starts'), this.interval,
        this.start, this.cancel),
      operator ? null : h('p', { class: 'summary' }, this.ctx.denyReason()),
      this.progress, this.failures)
    this.start.disabled = !operator
    this.refresh()
  }

  /** The checkbox cell of a fleet row. */
  checkbox (boardId) {
    return h('input', {
      type: 'checkbox',
      class: 'bulk-select',
      'aria-label': `Select board ${boardId}`,
      checked: this.selected.has(boardId),
      onchange: (e) => { if (e.target.checked) this.selected.add(boardId); else this.selected.delete(boardId); this.refresh() }
    })
  }

  selectShown () {
    for (const b of this.view.shown) this.selected.add(b.board_id)
    this.refresh()
    this.view.render()
  }

  clear () {
    this.selected.clear()
    this.refresh()
    this.view.render()
  }

  refresh () {
    replace(this.count, `${this.selected.size} selected`)
    this.start.disabled = !this.ctx.canOperate() || this.selected.size === 0 || this.taskId !== undefined
  }

  async run () {
    const boards = [...this.selected]
    const action = this.action.value
    const maxConcurrent = Number(this.maxConcurrent.value)
    const intervalMs = Number(this.interval.value)
    const plan = describePlan(action, boards.length, maxConcurrent, intervalMs)
    if (!await this.ctx.confirm(plan.title, plan.text, plan.ok)) { replace(this.progress, 'Bulk power cancelled: nothing was sent.'); return }
    const api = this.ctx.api
    let answer
    try {
      const response = await fetch(`${api.base}/power`, {
        method: 'POST',
        headers: { ...api.headers(), 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
        credentials: 'omit',
        body: JSON.stringify({ boards, action, max_concurrent: maxConcurrent, interval_ms: intervalMs })
      })
      answer = await response.json().catch(() => ({}))
      if (response.status !== 202) { replace(this.progress, `Refused (${response.status}): ${answer.message ?? 'no reason given'}`); return }
    } catch (err) {
      replace(this.progress, `Not sent: ${err.message}`)
      return
    }
    this.taskId = answer.task_id
    this.cancel.hidden = false
    replace(this.failures)
    replace(this.progress, `Task ${this.taskId} started.`)
    const early = this.early.get(this.taskId)
    this.early.clear()
    if (early !== undefined) this.onTask(early)
    this.refresh()
    // the stream shows each change; a poll as well, for a service or proxy without the stream
    this.timer = setInterval(() => this.poll(), TASK_POLL_MS)
  }

  /** A `task` event from the stream. */
  onTask (data) {
    if (data.task_id !== this.taskId) {
      if (this.taskId === undefined) {
        this.early.delete(data.task_id)
        this.early.set(data.task_id, data)
        if (this.early.size > 8) this.early.delete(this.early.keys().next().value)
      }
      return
    }
    replace(this.progress, describeProgress(data))
    if (data.board?.state === 'failed') this.failures.append(h('li', {}, `${data.board.board_id}: ${data.board.message ?? 'failed'}`))
    if (data.state !== 'running') this.poll()
  }

  async poll () {
    if (this.taskId === undefined) return
    try {
      const task = await this.ctx.api.call(`/tasks/${this.taskId}`)
      replace(this.progress, describeProgress(task))
      if (task.state === 'running') return
      replace(this.failures, task.boards.filter((b) => b.state === 'failed').map((b) => h('li', {}, `${b.board_id}: ${b.message ?? 'failed'}`)))
      this.finish()
    } catch { /* the next poll tries again */ }
  }

  async stop () {
    if (this.taskId === undefined) return
    try {
      await this.ctx.api.call(`/tasks/${this.taskId}`, { method: 'DELETE' })
    } catch (err) {
      replace(this.progress, `Cancel refused: ${err.message}`)
    }
  }

  finish () {
    clearInterval(this.timer)
    this.timer = undefined
    this.taskId = undefined
    this.cancel.hidden = true
    this.refresh()
  }

  destroy () {
    clearInterval(this.timer)
  }
}
