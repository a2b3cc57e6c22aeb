/**
 * Health at a glance in a real browser (Debian's chromium via
 * playwright-core): `opendcre serve --bmc-config` on two emulated BMCs
 * (in this process, so the test injects a fault), polled by default. The
 * fleet shows each board's state, hottest temperature, power and trend,
 * trouble first; a board that turns critical while the page is open moves
 * to the top, its row turns critical and a dismissable alert appears; the
 * board page colours the reading and draws the thresholds on the plot.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { exited, serveCli } from '../cli-process.js'
import { startBmc, steadyConfig } from '../bmc-emulator/emulator-kit.js'
import { axeViolations, launch, screenshot, textWaiter, watch } from './chromium.js'

const until = textWaiter(15_000)

t.test('the fleet page answers "who is in trouble"; a board turning critical while it is open', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-dashboard-states-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // two BMCs; the second runs hotter, so it is listed first while both are ok
  const cool = await startBmc(t, steadyConfig())
  const hot = await startBmc(t, steadyConfig((c) => { c.sensors = c.sensors.map((s) => (s.number === 1 ? { ...s, value: 60 } : s)) }))
  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({ bmcs: [cool, hot].map((b) => ({ bmc_ip: '127.0.0.1', bmc_port: b.port, username: 'ADMIN', password: 'ADMIN' })) }))
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify({ poll: { interval_s: 1, intervals: { ipmi: { default: 1 } }, events_s: 0.5 } }))
  const { child, url } = await serveCli(['--log-dir', dir, '--config', config, '--bmc-config', bmcConfig])
  t.teardown(async () => {
    child.kill('SIGTERM')
    await exited(child)
  })

  const browser = await launch()
  t.teardown(browser.close)
  const page = await browser.context.newPage()
  const log = watch(page)
  await page.goto(url + '/')
  await until(page, '#fleet-list [data-board="40000002"] .state', (v) => v === 'ok', 'judged ok')
  await until(page, '#fleet-list [data-board="40000001"] .state', (v) => v === 'ok', 'judged ok')
  // the embedded device bus's boards have no thresholds: unknown, listed above ok boards
  const ipmiOrder = async (): Promise<string[]> => (await page.locator('#fleet-list a.board-id').allTextContents()).filter((id) => id.startsWith('4'))
  t.same(await ipmiOrder(), ['40000002', '40000001'], 'both ok: the hotter board first')
  t.equal(await until(page, '[data-board="40000002"] .hottest', (v) => v.endsWith('°C'), 'hottest'), '60.0 °C', 'its hottest temperature')
  t.match(await page.locator('[data-board="40000002"] .power-w').textContent(), /^\d+ W$/, 'its power draw')
  t.equal(await page.locator('[data-board="40000002"] .power-state').textContent(), 'on', 'its power state')
  await until(page, '[data-board="40000002"] svg.trend', (v) => v !== '', 'a trend', 'aria-label')
  t.pass('a small trend of the hottest sensor')

  // the cool board crosses its CPU's upper critical threshold while the page is open
  const injected = Date.now()
  cool.device.crossThreshold(1, 'ucr')
  await until(page, '#alerts .alert[data-kind="threshold"]', (v) => v.includes('40000001') && v.includes('critical'), 'an alert')
  const shown = Date.now() - injected
  t.ok(shown < 5000, `the alert shows within ${shown} ms`)
  await until(page, '#fleet-list [data-board="40000001"] .state', (v) => v === 'critical', 'critical')
  t.equal(await page.locator('#fleet-list a.board-id').first().textContent(), '40000001', 'the critical board moves to the top of the fleet')
  t.same(await ipmiOrder(), ['40000001', '40000002'])
  t.equal(await page.locator('#fleet-list [data-board="40000001"]').getAttribute('data-state'), 'critical')
  t.match(await page.locator('#fleet-summary').textContent(), /1 in warning or worse/)
  await screenshot(page, 'fleet-critical')
  t.same(await axeViolations(page), [], 'axe: no serious or critical violations with an alert shown')

  await page.selectOption('#fleet-state', 'warning')
  t.same(await page.locator('#fleet-list a.board-id').allTextContents(), ['40000001'], 'the "warning or worse" filter')
  await page.selectOption('#fleet-state', '')

  const alerts = await page.locator('#alerts .alert').count()
  await page.locator('#alerts .alert .dismiss').first().click()
  t.equal(await page.locator('#alerts .alert').count(), alerts - 1, 'an alert is dismissed')

  // the board page: the reading coloured by its state, the thresholds on the plot
  await page.click('#fleet-list a:text("40000001")')
  await until(page, '[data-device="0001"] [data-testid="reading"]', (v) => v === 'critical', 'critical', 'data-state')
  t.match(await page.locator('[data-device="0001"] [data-testid="reading"]').getAttribute('class'), /reading-critical/)
  t.equal(await until(page, '[data-device="0002"] [data-testid="reading"]', (v) => v !== '', 'a state', 'data-state'), 'ok', 'the others ok')
  const thresholds = await until(page, '[data-device="0001"] .plot', (v) => v.includes('upper_critical'), 'thresholds drawn', 'data-thresholds')
  t.match(thresholds, /upper_critical=95/)
  t.match(thresholds, /upper_non_critical=85/)
  await screenshot(page, 'board-critical')
  t.same(log.errors.filter((e) => !e.text.startsWith('Failed to load resource')), [], 'no console errors')
})
