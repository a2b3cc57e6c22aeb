// A tiny element builder: text is always text (never parsed as HTML).

/** h('a', { href: '#/' , class: 'x', onclick: fn }, 'text', child) */
export function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value)
    else if (name === 'dataset') Object.assign(el.dataset, value)
    else el.setAttribute(name, value === true ? '' : String(value))
  }
  append(el, children)
  return el
}

function append (el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue
    el.append(child instanceof Node ? child : String(child))
  }
}

/** Replace an element's content. */
export function replace (el, ...children) {
  el.replaceChildren()
  append(el, children)
}

/** "4 s ago", "3 min ago", "never". */
export function ago (iso, now = Date.now()) {
  if (iso === null || iso === undefined) return 'never'
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (seconds < 60) return `${seconds} s ago`
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`
  return new Date(iso).toLocaleString()
}
