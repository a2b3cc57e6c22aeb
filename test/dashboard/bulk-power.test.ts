import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { AUDIT_LOG } from '../../server.js'
import { serveForTest } from '../cli-process.js'
import { basic, userAdd } from '../auth/users.js'
import { axeViolations, launch, screenshot, text, textWaiter, watch } from './chromium.js'

/**
 * Bulk power from the fleet page in a real browser (Debian's chromium)
 * against `opendcre serve` with the embedded default (two emulated BMCs,
 * 40000001 and 40000002, stateful): select boards, confirm a dialog that
 * states the count and the policy, follow the task to its end; the boards
 * really are switched, each switch audited with the task id. A viewer
 * cannot start one.
 */
const dir = mkdtempSync(join(tmpdir(), 'opendcre-dashboard-bulk-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const serve = async (t: Test, args: string[]): Promise<{ url: string, logs: string }> => await serveForTest(t, dir, args)

const until = textWaiter(20_000)

t.test('select boards, confirm the count and the policy, follow the task live', { timeout: 120_000 }, async (t) => {
  const users = join(dir, 'users.json')
  t.equal((await userAdd(users, 'olga', 'operator', 'op-pass\n')).code, 0)
  t.equal((await userAdd(users, 'vic', 'viewer', 'view-pass\n')).code, 0)
  const { url, logs } = await serve(t, ['--users', users])
  const browser = await launch()
  t.teardown(browser.close)
  const page = await browser.context.newPage()
  const log = watch(page)
  await page.goto(`${url}/dashboard/`)
  await page.fill('#login-user', 'olga')
  await page.fill('#login-password', 'op-pass')
  await page.click('#login-submit')
  await page.locator('#fleet-list [data-board]').first().waitFor()
  await until(page, '#fleet-live', (v) => v.includes('streamed'), 'streaming')

  t.equal(await text(page, '#bulk-count'), '0 selected')
  t.ok(await page.locator('#bulk-start').isDisabled(), 'nothing selected: nothing to start')
  await page.selectOption('#fleet-backend', 'ipmi')
  await page.click('#bulk-select-shown')
  t.equal(await text(page, '#bulk-count'), '2 selected', 'the boards shown are selected')
  t.same(await page.locator('#fleet-list input.bulk-select:checked').count(), 2)
  await page.selectOption('#bulk-action', 'off')
  await page.fill('#bulk-max', '1')
  // 2 s between the two boards' starts: the task runs long enough to be seen running on a loaded machine
  await page.fill('#bulk-interval', '2000')

  // the confirmation states the count and the policy; cancelling sends nothing
  await page.click('#bulk-start')
  await page.locator('dialog#confirm').waitFor({ state: 'visible' })
  t.equal(await text(page, '#confirm-title'), 'Power off 2 boards?')
  t.match(await text(page, '#confirm-text'), /^At most 1 switching at once, at least 2000 ms between starts;/)
  await screenshot(page, 'bulk-power-confirmation')
  t.same(await axeViolations(page), [], 'axe: no serious or critical violations with the dialog open')
  await page.click('#confirm-cancel')
  // the dialog closes and the page then says so: wait for the text rather than read it at once
  t.equal(await until(page, '#bulk-progress', (v) => v !== '', 'the cancelled confirmation said'), 'Bulk power cancelled: nothing was sent.')

  await page.click('#bulk-start')
  await page.locator('dialog#confirm').waitFor({ state: 'visible' })
  await page.click('#confirm-ok')
  const seen = new Set<string>()
  const final = await until(page, '#bulk-progress', (v) => { seen.add(v); return v.startsWith('Task done') }, 'done')
  t.equal(final, 'Task done: 2 of 2 confirmed')
  t.ok([...seen].some((v) => v.startsWith('Task running')), `progress shown while running (${[...seen].join(' | ')})`)
  await screenshot(page, 'bulk-power-done')

  const auth = basic('olga', 'op-pass')
  for (const board of ['40000001', '40000002']) {
    const state = await (await fetch(`${url}/opendcre/1.2/power/${board}/0100`, { headers: auth })).json() as { power_status: string }
    t.equal(state.power_status, 'off', `${board} is off`)
  }
  const tasks = await (await fetch(`${url}/opendcre/1.2/tasks`, { headers: auth })).json() as { tasks: Array<{ task_id: string, max_switching: number, policy: { max_concurrent: number, interval_ms: number } }> }
  t.equal(tasks.tasks.length, 1, 'the cancelled confirmation started no task')
  t.match(tasks.tasks[0], { max_switching: 1, policy: { max_concurrent: 1, interval_ms: 2000 } }, 'the policy chosen on the page')
  // the page asks who it is before signing in: the browser notes that 401
  t.same(log.errors.filter((e) => !(e.text.includes('status of 401') && e.url.endsWith('/whoami'))), [], 'no console errors')

  // a viewer sees the toolbar, but cannot start
  const viewer = await browser.context.newPage()
  await viewer.goto(`${url}/dashboard/`)
  await viewer.fill('#login-user', 'vic')
  await viewer.fill('#login-password', 'view-pass')
  await viewer.click('#login-submit')
  await viewer.locator('#fleet-list [data-board]').first().waitFor()
  await viewer.click('#bulk-select-shown')
  t.ok(await viewer.locator('#bulk-start').isDisabled(), 'a viewer cannot start a bulk task')

  const file = join(logs, AUDIT_LOG)
  const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []
  const switches = lines.filter((l) => l.task_id === tasks.tasks[0].task_id)
  t.same(switches.map((l) => [l.identity, l.command, l.board]).sort(), [['olga', 'power off', '40000001'], ['olga', 'power off', '40000002']], 'each switch audited with the task id')
})
