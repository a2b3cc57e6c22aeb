/**
 * The drive-by attack of issue 21, in a real browser (Debian's chromium,
 * playwright-core): a page served from another loopback address
 * (127.0.0.2, another site) tries <img>, <form method=post> and fetch()
 * against power, LED and boot target of the embedded Redfish board
 * 70000001, and tries to read its asset JSON. Once with authentication off,
 * once with a users file and an operator's credentials in the browser.
 * Nothing changes (the state is read back), nothing is read, and the audit
 * log records every refusal.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { AUDIT_LOG } from '../../server.js'
import { serveForTest } from '../cli-process.js'
import { basic, userAdd } from '../auth/users.js'
import { launch } from '../dashboard/chromium.js'

const API = '/opendcre/1.2'
const dir = mkdtempSync(join(tmpdir(), 'opendcre-attacker-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const serve = async (t: Test, args: string[]): Promise<{ url: string, logs: string }> => await serveForTest(t, dir, args)

/** The attacker's page on 127.0.0.2: every way a page can send a request it is not allowed to read. */
function attackPage (service: string): string {
  const targets = [`${service}${API}/power/70000001/0100/off`, `${service}${API}/led/70000001/0300/on`, `${service}${API}/boot_target/70000001/0100/pxe`]
  const imgs = targets.map((u) => `<img src="${u}">`).join('\n')
  const forms = targets.map((u, i) => `<form id="f${i}" method="post" action="${u}" target="sink${i}"><input name="x" value="1"></form><iframe name="sink${i}"></iframe>`).join('\n')
  return `<!doctype html><html><body>
${imgs}
${forms}
<script>
const targets = ${JSON.stringify(targets)};
window.results = { fetches: [], read: null, done: false };
(async () => {
  for (const f of document.forms) f.submit();
  for (const u of targets) {
    for (const init of [{ mode: 'no-cors' }, { mode: 'no-cors', method: 'POST', body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }, { credentials: 'include' }]) {
      try { const r = await fetch(u, init); window.results.fetches.push({ u, type: r.type, status: r.status }) } catch (e) { window.results.fetches.push({ u, error: String(e) }) }
    }
  }
  try { const r = await fetch('${service}${API}/asset/70000001/0200', { credentials: 'include' }); window.results.read = await r.text() } catch (e) { window.results.read = 'error: ' + String(e) }
  window.results.done = true;
})();
</script></body></html>`
}

async function attackerSite (t: Test, service: string): Promise<string> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(attackPage(service))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  return `http://127.0.0.2:${(server.address() as AddressInfo).port}/`
}

interface State { power: string, led: string, boot: string }

async function state (service: string, headers: Record<string, string>): Promise<State> {
  const read = async (path: string): Promise<Record<string, string>> => await (await fetch(`${service}${API}${path}`, { headers })).json() as Record<string, string>
  return { power: (await read('/power/70000001/0100')).power_status, led: (await read('/led/70000001/0300')).led_state, boot: (await read('/boot_target/70000001/0100')).target }
}

function audit (logs: string): Array<Record<string, unknown>> {
  const file = join(logs, AUDIT_LOG)
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
}

async function attack (t: Test, service: string, logs: string, readHeaders: Record<string, string>, credentials?: { username: string, password: string }): Promise<void> {
  const before = await state(service, readHeaders)
  t.same(before, { power: 'on', led: 'off', boot: 'no_override' }, 'the board as the emulator starts it')
  const site = await attackerSite(t, service)
  const browser = await launch(credentials)
  t.teardown(browser.close)
  const page = await browser.context.newPage()
  await page.goto(site)
  await page.waitForFunction('window.results && window.results.done', undefined, { timeout: 30_000 })
  // the form posts land in iframes: give them their time
  await page.waitForTimeout(500)
  const results = await page.evaluate('window.results') as { fetches: Array<{ u: string, type?: string, status?: number, error?: string }>, read: string }
  t.equal(results.fetches.length, 12, 'the page sent its fetches')
  t.ok(results.fetches.every((f) => f.error !== undefined || f.type === 'opaque'), 'no answer readable by the page')
  t.notMatch(results.read, /serial_number|chassis_info|board_info/, `the asset JSON is not readable cross-origin (${results.read.slice(0, 60)})`)

  t.same(await state(service, readHeaders), before, 'power, LED and boot target unchanged')
  const refusals = audit(logs).filter((l) => l.status === 403 && /^cross-site/.test(String(l.refused)))
  const commands = new Set(refusals.map((l) => String(l.command).split(' ')[0]))
  t.same([...commands].sort(), ['boot_target', 'led', 'power'], 'the audit log shows the refusals of each command')
  t.ok(refusals.length >= 9, `img, form and fetch refusals audited (${refusals.length})`)
  t.notOk(audit(logs).some((l) => l.result === 'ok'), 'no state change went through')

  // the same page, same browser, on the service's own origin (as the dashboard): allowed
  const own = await browser.context.newPage()
  await own.goto(`${service}/`)
  const status = await own.evaluate(`fetch('${API}/led/70000001/0300/on', { method: 'POST', headers: ${JSON.stringify(readHeaders)} }).then((r) => r.status)`)
  t.equal(status, 200, 'a same-origin request (the dashboard) still changes state')
  t.equal((await state(service, readHeaders)).led, 'on', 'and the change reads back: the check can see one')
}

t.test('auth off: the attacker page changes nothing and reads nothing', async (t) => {
  const { url, logs } = await serve(t, [])
  await attack(t, url, logs, {})
})

t.test('auth on, the operator\'s credentials in the browser: the attacker page changes nothing', async (t) => {
  const users = join(dir, 'users.json')
  t.equal((await userAdd(users, 'otto', 'operator', 'attack-Secret-1\n')).code, 0)
  const { url, logs } = await serve(t, ['--users', users])
  await attack(t, url, logs, basic('otto', 'attack-Secret-1'), { username: 'otto', password: 'attack-Secret-1' })
})
