import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { packageRoot } from '../../config/paths.js'

/** Debian's chromium (installed by .ci/run), driven by playwright-core. */
const CHROMIUM = '/usr/bin/chromium'

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]

/** Screenshots of each page, kept as test artifacts (gitignored). */
const ARTIFACTS = join(packageRoot, 'test-artifacts', 'dashboard')

/** A fresh profile in a temporary directory, removed on close; with credentials, the browser answers Basic challenges with them (as a user who logged in). */
export async function launch (httpCredentials?: { username: string, password: string }): Promise<{ context: BrowserContext, close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'opendcre-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    ...(httpCredentials !== undefined ? { httpCredentials } : {}),
    timeout: 30_000
  })
  return {
    context,
    close: async () => {
      await context.close().catch(() => {})
      rmSync(profile, { recursive: true, force: true })
    }
  }
}

export interface PageLog {
  /** console.error calls, uncaught exceptions, and the browser's own error lines. */
  errors: Array<{ text: string, url: string }>
  /** Answers of 400 and above: the URL's path and the status. */
  failed: Array<{ path: string, status: number }>
}

/** Records what a page reports as going wrong. */
export function watch (page: Page): PageLog {
  const log: PageLog = { errors: [], failed: [] }
  page.on('console', (message) => {
    if (message.type() === 'error') log.errors.push({ text: message.text(), url: message.location().url })
  })
  page.on('pageerror', (error) => log.errors.push({ text: `uncaught: ${error.message}`, url: '' }))
  page.on('response', (response) => {
    if (response.status() >= 400) log.failed.push({ path: new URL(response.url()).pathname, status: response.status() })
  })
  return log
}

const require = createRequire(import.meta.url)
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')

interface AxeViolation { id: string, impact: string | null, help: string, nodes: number }

/**
 * axe-core run in the page: serious and critical violations. Injected with
 * evaluate (the debugger's channel), so the page's Content-Security-Policy
 * stays as it ships.
 */
export async function axeViolations (page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE)
  return await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length })))`)
}

export async function screenshot (page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
}

/** The trimmed text of the first element the selector finds ('' when none). */
export async function text (page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent() ?? '').trim()
}

export type Until = (page: Page, selector: string, test: (value: string) => boolean, what: string, attribute?: string, timeoutMs?: number) => Promise<string>

/**
 * A wait for an element's text (or attribute) to satisfy a test, polled every
 * 100 ms; it fails after `timeoutMs` (the test file's default unless given),
 * naming what it waited for and the last value seen.
 */
export function textWaiter (defaultTimeoutMs: number): Until {
  return async (page, selector, test, what, attribute, timeoutMs = defaultTimeoutMs) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const el = page.locator(selector).first()
      const value = (await el.count()) === 0 ? '' : ((attribute === undefined ? await el.textContent() : await el.getAttribute(attribute)) ?? '').trim()
      if (test(value)) return value
      if (Date.now() > deadline) throw new Error(`${selector}: not ${what} within ${timeoutMs} ms (${value})`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}
