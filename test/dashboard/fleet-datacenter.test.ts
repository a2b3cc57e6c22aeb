import { createServer } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { exited, serveCli } from '../cli-process.js'
import { axeViolations, launch, screenshot, watch } from './chromium.js'

/**
 * The fleet page across instances, in Chromium: `opendcre serve
 * --fleet-query-url URL` lists every board the query API holds (here a small
 * server answering as Prometheus's /api/v1/query does, with boards of three
 * instances), each linking to the instance that owns it; the real query API
 * (VictoriaMetrics fed by Prometheus) is test/prometheus/datacenter.test.ts.
 */
const dir = mkdtempSync(join(tmpdir(), 'opendcre-dc-dashboard-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const NOW = Math.floor(Date.now() / 1000)
const INSTANCES = ['10.1.0.10:5000', '10.1.0.11:5000', '10.1.0.12:5000']
const BOARDS = Array.from({ length: 450 }, (_v, i) => ({
  board_id: (0x40000001 + i).toString(16),
  instance: INSTANCES[i % 3],
  up: i !== 7,
  temperature: 40 + (i % 30)
}))

function vector (result: Array<{ metric: Record<string, string>, value: [number, string] }>): string {
  return JSON.stringify({ status: 'success', data: { resultType: 'vector', result } })
}

async function queryApi (t: Test): Promise<string> {
  const server = createServer((req, res) => {
    const q = new URL(req.url ?? '', 'http://x').searchParams.get('query') ?? ''
    res.setHeader('content-type', 'application/json')
    const per = (value: (b: typeof BOARDS[number]) => number): string => vector(BOARDS.map((b) => ({ metric: { board_id: b.board_id, instance: b.instance, backend: 'ipmi' }, value: [NOW, String(value(b))] })))
    if (q === 'opendcre_board_up') res.end(per((b) => (b.up ? 1 : 0)))
    else if (q.includes('temperature')) res.end(per((b) => b.temperature))
    else if (q.includes('power')) res.end(per(() => 180))
    else res.end(per(() => 3))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

t.test('with fleet_query_url the fleet page lists every instance\'s boards, each linked to its owner', async (t) => {
  const query = await queryApi(t)
  const { child, url } = await serveCli(['--log-dir', mkdtempSync(join(dir, 'logs-')), '--fleet-query-url', query, '--shard', '0/3',
    ...INSTANCES.flatMap((i) => ['--shard-url', `https://${i}`])])
  t.teardown(async () => {
    const exit = exited(child)
    child.kill('SIGTERM')
    await exit
  })
  const browser = await launch()
  t.teardown(browser.close)
  const page = await browser.context.newPage()
  const log = watch(page)
  await page.goto(url)
  await page.locator('#dc-summary').filter({ hasText: 'boards' }).waitFor({ timeout: 20_000 })
  t.equal((await page.locator('h1').textContent())?.trim(), 'Data center')
  t.match(await page.locator('#dc-summary').textContent(), '450 boards on 3 instances · 449 up, 1 down · the first 300 of 450 shown: filter to narrow')
  t.equal(await page.locator('#dc-boards tr').count(), 300, 'at most 300 rows in the page')

  const first = page.locator('#dc-boards tr').first()
  t.equal(await first.locator('a.board-id').getAttribute('href'), 'https://10.1.0.10:5000/#/board/40000001', 'the board links to its owner\'s dashboard (its shard_urls entry)')
  t.same((await first.locator('td').allTextContents()).map((s) => s.trim()).slice(1, 5), ['10.1.0.10:5000', 'up', '40 °C', '180 W'])

  await page.fill('#dc-filter', 'down')
  await page.locator('#dc-summary').filter({ hasText: '1 shown' }).waitFor({ timeout: 5000 })
  const down = page.locator('#dc-boards tr')
  t.equal(await down.count(), 1)
  t.equal(await down.first().getAttribute('data-board'), '40000008')
  t.equal(await down.first().locator('a.board-id').getAttribute('href'), 'https://10.1.0.11:5000/#/board/40000008')

  t.same(await axeViolations(page), [], 'no serious or critical accessibility violations')
  await screenshot(page, 'fleet-datacenter')
  t.same(log.errors, [], 'no console errors')
  t.same(log.failed, [], 'no failed answers')
})
