import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { build, fixture, get } from '../helper.js'
import { corpus, serveMockup, valueOf } from './mockup-server.js'

/**
 * The cross-check: the same mockups served by DMTF's own
 * Redfish-Mockup-Server (test/fixtures/redfish-mockup-server/, BSD-3,
 * python3 alone; the stub stands in for grequests, which only its event
 * pushing uses). Its $expand, ETags and PATCH are DMTF's, not ours; the
 * expected values still come from the mockup's files.
 */

const dir = mkdtempSync(join(tmpdir(), 'redfish-dmtf-'))

/** A free loopback port (the script takes no port 0: it never says which it got). */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function dmtf (t: Test, mockup: string): Promise<string> {
  const port = await freePort()
  const root = fixture('redfish-mockup-server')
  const child = spawn('python3', ['redfishMockupServer.py', '-S', '-H', '127.0.0.1', '-p', String(port), '-D', fixture(`redfish-mockups/${mockup}`)], {
    cwd: root,
    env: { ...process.env, PYTHONPATH: join(root, 'stub') },
    stdio: 'ignore'
  })
  t.teardown(() => { child.kill('SIGTERM') })
  const url = `http://127.0.0.1:${port}`
  const until = Date.now() + 15_000
  for (;;) {
    try {
      if ((await fetch(`${url}/redfish/v1/`, { signal: AbortSignal.timeout(1000) })).ok) return url
    } catch {}
    if (Date.now() > until || child.exitCode !== null) throw new Error(`DMTF's mockup server did not start (exit ${String(child.exitCode)})`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

for (const mockup of ['public-bladed', 'public-liquid-cooled-server'] as const) {
  t.test(`${mockup} served by DMTF's Redfish-Mockup-Server: every system a board, every sensor as the files have it, LED round trip`, async (t) => {
    const url = await dmtf(t, mockup)
    const files = await serveMockup(mockup)
    t.teardown(files.close)
    const expected = corpus(files, mockup)
    const file = join(dir, `${mockup}.json`)
    writeFileSync(file, JSON.stringify({ servers: [{ url, timeout_ms: 5000 }] }))
    const app = await build(t, { redfishConfig: file, redfish: { scanBudgetMs: 30_000 } })
    const boards = ((await get(app, '/scan')).json().boards as Array<{ board_id: string, devices: Array<{ device_id: string, device_type: string, device_info?: string }> }>)
      .filter((b) => b.board_id.startsWith('7'))
    t.equal(boards.filter((b) => b.devices.some((d) => d.device_id === '0100')).length, expected.systems.length, `${expected.systems.length} systems, as many boards`)
    const read: string[] = []
    for (const board of boards) {
      for (const d of board.devices.filter((d) => Number.parseInt(d.device_id, 16) >= 0x1000)) {
        const res = await get(app, `/read/${d.device_type}/${board.board_id}/${d.device_id}`)
        read.push(`${d.device_info ?? ''}=${res.statusCode === 200 ? String(valueOf(res.json())) : 'null'}`)
      }
    }
    t.same(read.sort(), expected.sensors.map((s) => `${s.name}=${String(s.value)}`).sort(), `all ${expected.sensors.length} sensors with the files' values`)
    t.same((await get(app, '/led/70000001/0300/on')).json().led_state, 'on', 'LED on: PATCH IndicatorLED, read back from DMTF\'s server')
    t.same((await get(app, '/led/70000001/0300/off')).json().led_state, 'off')
    t.same((await get(app, '/boot_target/70000001/0200/pxe')).json(), { target: 'pxe' }, 'boot override PATCH, read back')
  })
}
