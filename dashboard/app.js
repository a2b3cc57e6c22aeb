// The dashboard's shell: who is signed in, which view is shown (#/ or #/board/<id>).
import { Api } from './api.js'
import { BoardView } from './board.js'
import { h, replace } from './dom.js'
import { FleetView } from './fleet.js'

const api = new Api(document.querySelector('meta[name="opendcre-api"]').content)
const main = document.getElementById('main')
const whoEl = document.getElementById('who')
const loginDialog = document.getElementById('login')
const confirmDialog = document.getElementById('confirm')
let who = null
let view = null

const ctx = {
  api,
  canOperate: () => who?.role === 'operator',
  denyReason: () => `Signed in as ${who?.identity ?? 'unknown'} (${who?.role ?? 'no role'}): changing state needs the operator role.`,
  /** A modal question; resolves true when the person confirms. */
  confirm (title, text, okLabel) {
    replace(document.getElementById('confirm-title'), title)
    replace(document.getElementById('confirm-text'), text)
    replace(document.getElementById('confirm-ok'), okLabel)
    confirmDialog.returnValue = ''
    confirmDialog.showModal()
    document.getElementById('confirm-cancel').focus()
    return new Promise((resolve) => confirmDialog.addEventListener('close', () => resolve(confirmDialog.returnValue === 'ok'), { once: true }))
  }
}

api.onUnauthorized = () => { if (!loginDialog.open) showLogin() }

function showLogin (error = '') {
  replace(document.getElementById('login-error'), error)
  if (!loginDialog.open) loginDialog.showModal()
  document.getElementById('login-user').focus()
}

document.getElementById('login-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = new FormData(event.target)
  api.login({ user: form.get('user'), password: form.get('password'), token: form.get('token') })
  if (await identify()) {
    loginDialog.close()
    event.target.reset()
    show()
  }
})

/** GET /whoami: the identity and role the service grants these credentials. */
async function identify () {
  try {
    who = await api.call('/whoami')
  } catch (err) {
    who = null
    if (err.status === 401) showLogin(api.authorization === null ? '' : 'The service refused these credentials.')
    else if (err.status === 403) showLogin(`Signed in, but: ${err.message}`)
    else replace(main, h('p', { class: 'message error', role: 'alert' }, `The service did not answer: ${err.message}`))
    renderWho()
    return false
  }
  renderWho()
  return true
}

function renderWho () {
  document.getElementById('viewer-note').hidden = who === null || who.role === 'operator'
  if (who === null) { replace(whoEl); return }
  if (who.identity === null) { replace(whoEl, h('span', {}, 'Authentication off: everyone may operate')); return }
  replace(whoEl,
    h('span', { id: 'identity' }, `Signed in as ${who.identity}`), ' ',
    h('span', { class: `badge role-${who.role}`, id: 'role' }, who.role), ' ',
    h('button', { type: 'button', onclick: () => { api.logout(); who = null; view?.destroy(); view = null; renderWho(); replace(main); showLogin() } }, 'Sign out'))
}

function show () {
  view?.destroy()
  const match = /^#\/board\/([0-9A-Fa-fx]+)$/.exec(location.hash)
  view = match !== null ? new BoardView(ctx, match[1]) : new FleetView(ctx)
  document.title = match !== null ? `Board ${match[1]} · OpenDCRE` : 'Fleet · OpenDCRE'
  view.mount(main).catch((err) => {
    if (err.name === 'AbortError') return
    if (err.status !== 401) replace(main, h('p', { class: 'message error', role: 'alert' }, `Could not load: ${err.message}`))
  })
}

window.addEventListener('hashchange', () => { if (who !== null) show() })
if (await identify()) show()
