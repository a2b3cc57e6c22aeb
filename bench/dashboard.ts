/**
 * The dashboard's figures (docs/dashboard.md), against `opendcre serve` as
 * it ships (the built CLI, Node's flags as npm start, the embedded default:
 * the device-bus emulator, two emulated BMCs, the shared poller):
 *  - page weight: bytes transferred on a cold first load of the fleet page
 *    and of a board page, in chromium;
 *  - time to first reading: from navigation to the first reading with its
 *    unit on a board page, in chromium (median of several cold loads);
 *  - the service's CPU with 100 dashboards open on the stream against none,
 *    in the same run: 100 connections to GET /stream?board_id=..., as the
 *    board page opens it (fetch, text/event-stream), spread over the boards.
 *    Also the device bus's transactions a second, to show that the
 *    dashboards add no traffic to the hardware.
 *
 * npm run bench:dashboard [-- --seconds 20 --dashboards 100]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { chromium, type Browser, type Page } from 'playwright-core'
import { packageRoot } from '../config/paths.js'
import { cpuSeconds, SERVICE_NODE_FLAGS } from './harness.js'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const API = '/opendcre/1.2'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, dashboards: { type: 'string', default: '100' }, loads: { type: 'string', default: '5' } } })
const SECONDS = Number(values.seconds)
const DASHBOARDS = Number(values.dashboards)
const LOADS = Number(values.loads)

async function serve (logDir: string): Promise<{ child: ChildProcess, url: string }> {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(packageRoot, 'dist', 'cli', 'opendcre.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--log-dir', logDir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
      if (match !== null) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`serve exited (${String(code)})`)))
  })
  return { child, url }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Waits until the expression (evaluated through the debugger, so the page's CSP holds) is truthy. */
async function until (page: Page, expression: string): Promise<unknown> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const value = await page.evaluate(expression)
    if (value !== false && value !== null && value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`not within 20 s: ${expression}`)
    await sleep(20)
  }
}

/**
 * Set before the page's own scripts run: the moment (performance.now(), ms
 * from navigation start) a reading with its unit first appears.
 */
const FIRST_READING_WATCH = `(() => {
  const shown = () => [...document.querySelectorAll('[data-testid="reading"]')].some((el) => / (°C|RPM|V|A|W|%)$/.test(el.textContent))
  new MutationObserver((_m, observer) => {
    if (shown()) { window.firstReadingAt = performance.now(); observer.disconnect() }
  }).observe(document, { subtree: true, childList: true, characterData: true })
})()`

/** Bytes on the wire (headers and bodies) for every response that finished loading, on a cold cache. */
async function pageWeight (browser: Browser, url: string, ready: string): Promise<{ kb: number, requests: number }> {
  const context = await browser.newContext()
  const page = await context.newPage()
  const cdp = await context.newCDPSession(page)
  await cdp.send('Network.enable')
  let bytes = 0
  let requests = 0
  cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => { bytes += e.encodedDataLength; requests++ })
  await page.goto(url)
  await until(page, ready)
  await sleep(500)
  await context.close()
  return { kb: bytes / 1024, requests }
}

/** Milliseconds from navigation start to the first reading shown with its unit. */
async function timeToFirstReading (browser: Browser, url: string): Promise<number> {
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.addInitScript(FIRST_READING_WATCH)
  await page.goto(url)
  const ms = await until(page, 'window.firstReadingAt') as number
  await context.close()
  return ms
}

/** n open streams, each reading its events; resolves with a closer and a byte counter. */
function openStreams (url: string, n: number, boards: string[]): { close: () => void, bytes: () => number, open: () => number } {
  const abort = new AbortController()
  let bytes = 0
  let open = 0
  for (let i = 0; i < n; i++) {
    void (async () => {
      try {
        const res = await fetch(`${url}${API}/stream?board_id=${boards[i % boards.length]}`, { headers: { accept: 'text/event-stream' }, signal: abort.signal })
        open++
        for await (const chunk of res.body!) bytes += (chunk as Uint8Array).length
      } catch { /* aborted */ }
    })()
  }
  return { close: () => abort.abort(), bytes: () => bytes, open: () => open }
}

async function transactions (url: string): Promise<number> {
  const res = await fetch(`${url}${API}/health`)
  const health = await res.json() as { backends: { device_bus?: { transactions: number } } }
  return health.backends.device_bus?.transactions ?? 0
}

/** The service's CPU seconds a second and the bus's transactions a second over SECONDS. */
async function measure (child: ChildProcess, url: string): Promise<{ cpu: number, tps: number }> {
  const cpu0 = cpuSeconds(child.pid!)
  const tx0 = await transactions(url)
  const t0 = performance.now()
  await sleep(SECONDS * 1000)
  const elapsed = (performance.now() - t0) / 1000
  return { cpu: (cpuSeconds(child.pid!) - cpu0) / elapsed, tps: (await transactions(url) - tx0) / elapsed }
}

const logDir = mkdtempSync(join(tmpdir(), 'opendcre-bench-dashboard-'))
const { child, url } = await serve(logDir)
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
try {
  const scan = await (await fetch(`${url}${API}/scan`)).json() as { boards: Array<{ board_id: string }> }
  const boards = scan.boards.map((b) => b.board_id)
  await sleep(3000) // the poller's first round

  const fleet = await pageWeight(browser, `${url}/`, "document.querySelectorAll('#fleet-list [data-board]').length > 0")
  const board = await pageWeight(browser, `${url}/#/board/00000001`, "[...document.querySelectorAll('[data-testid=\"reading\"]')].some((el) => el.textContent.endsWith('°C'))")
  const ttfr: number[] = []
  for (let i = 0; i < LOADS; i++) ttfr.push(await timeToFirstReading(browser, `${url}/#/board/00000001`))
  await browser.close()

  const none = await measure(child, url)
  const streams = openStreams(url, DASHBOARDS, boards)
  await sleep(2000)
  const bytesBefore = streams.bytes()
  const open = await measure(child, url)
  const streamed = (streams.bytes() - bytesBefore) / SECONDS
  const opened = streams.open()
  streams.close()

  const r = (x: number, d = 1): number => Number(x.toFixed(d))
  console.log(JSON.stringify({
    service: 'opendcre serve (embedded default: device-bus emulator, two emulated BMCs, shared poller)',
    boards: boards.length,
    page_weight_kb: { fleet: r(fleet.kb), fleet_requests: fleet.requests, board: r(board.kb), board_requests: board.requests, note: 'cold cache; the open event stream not counted (it never finishes)' },
    time_to_first_reading_ms: { median: Math.round(median(ttfr)), runs: ttfr.map((x) => Math.round(x)) },
    cpu: {
      seconds_each: SECONDS,
      no_dashboards: { cpu_percent: r(none.cpu * 100, 2), bus_transactions_per_s: r(none.tps, 2) },
      dashboards: { count: opened, cpu_percent: r(open.cpu * 100, 2), bus_transactions_per_s: r(open.tps, 2), stream_kb_per_s: r(streamed / 1024, 1) },
      ratio: r(open.cpu / none.cpu, 2)
    }
  }, null, 2))
} finally {
  await browser.close().catch(() => {})
  child.kill('SIGTERM')
  rmSync(logDir, { recursive: true, force: true })
}
