import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { build, fixture, get } from '../helper.js'
import { MOCKUPS, corpus, serveMockup, valueOf } from './mockup-server.js'

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

/** DMTF's server, and how many GETs it has logged so far (its access log, on stderr). */
async function dmtf (t: Test, mockup: string): Promise<{ url: string, gets: () => number }> {
  const port = await freePort()
  const root = fixture('redfish-mockup-server')
  const child = spawn('python3', ['redfishMockupServer.py', '-S', '-H', '127.0.0.1', '-p', String(port), '-D', fixture(`redfish-mockups/${mockup}`)], {
    cwd: root,
    env: { ...process.env, PYTHONPATH: join(root, 'stub') },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  t.teardown(() => { child.kill('SIGTERM') })
  let gets = 0
  let partial = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n')
    partial = lines.pop() ?? ''
    gets += lines.filter((l) => l.includes('"GET ')).length
  })
  const url = `http://127.0.0.1:${port}`
  const until = Date.now() + 15_000
  for (;;) {
    try {
      if ((await fetch(`${url}/redfish/v1/`, { signal: AbortSignal.timeout(1000) })).ok) return { url, gets: () => gets }
    } catch {}
    if (Date.now() > until || child.exitCode !== null) throw new Error(`DMTF's mockup server did not start (exit ${String(child.exitCode)})`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const figures: Record<string, number> = {}

for (const mockup of MOCKUPS) {
  t.test(`${mockup} served by DMTF's Redfish-Mockup-Server: every system a board, every sensor as the files have it, LED round trip`, async (t) => {
    const { url, gets } = await dmtf(t, mockup)
    const files = await serveMockup(mockup)
    t.teardown(files.close)
    const expected = corpus(files, mockup)
    const file = join(dir, `${mockup}.json`)
    // one poll cycle's readings kept for a minute: the GETs counted are one cycle's
    writeFileSync(file, JSON.stringify({ servers: [{ url, timeout_ms: 5000 }], limits: { reading_max_age_ms: 60_000 } }))
    const app = await build(t, { redfishConfig: file, redfish: { scanBudgetMs: 30_000 }, poll: false })
    const boards = ((await get(app, '/scan')).json().boards as Array<{ board_id: string, devices: Array<{ device_id: string, device_type: string, device_info?: string }> }>)
      .filter((b) => b.board_id.startsWith('7'))
    t.equal(boards.filter((b) => b.devices.some((d) => d.device_id === '0100')).length, expected.systems.length, `${expected.systems.length} systems, as many boards`)
    /** One poll cycle: power status, LED, every sensor; the sensors' name=value. */
    const cycle = async (): Promise<string[]> => {
      const read: string[] = []
      for (const board of boards) {
        if (board.devices.some((d) => d.device_id === '0100')) t.equal((await get(app, `/power/${board.board_id}/0100`)).statusCode, 200)
        if (board.devices.some((d) => d.device_id === '0300')) t.equal((await get(app, `/led/${board.board_id}/0300`)).statusCode, 200)
        for (const d of board.devices.filter((d) => Number.parseInt(d.device_id, 16) >= 0x1000)) {
          const res = await get(app, `/read/${d.device_type}/${board.board_id}/${d.device_id}`)
          read.push(`${d.device_info ?? ''}=${res.statusCode === 200 ? String(valueOf(res.json())) : 'null'}`)
        }
      }
      return read.sort()
    }
    const first = await cycle()
    t.same(first, expected.sensors.map((s) => `${s.name}=${String(s.value)}`).sort(), `all ${expected.sensors.length} sensors with the files' values`)
    if (mockup === 'public-tower') {
      // the EnvironmentMetrics fans whose Sensors (FanBay3, FanBay4) the service lacks, as the file has them
      const fans = (files.resource('/redfish/v1/Chassis/Tower/EnvironmentMetrics')?.FanSpeedsPercent as Array<{ DeviceName: string, Reading: number, SpeedRPM: number }>).slice(2)
      t.same(first.filter((r) => r.startsWith('Chassis Fan #3') || r.startsWith('Chassis Fan #4')), fans.flatMap((f) => [`${f.DeviceName} RPM=${f.SpeedRPM}`, `${f.DeviceName}=${f.Reading}`]).sort(), 'Chassis/Tower/EnvironmentMetrics\' two fans no Sensor holds, read from DMTF\'s server')
    }
    // the steady state: after the first cycle (which may learn a GET answered too much) and an LED change (which forgets the readings kept)
    t.same((await get(app, '/led/70000001/0300/on')).json().led_state, 'on', 'LED on: PATCH IndicatorLED, read back from DMTF\'s server')
    // DMTF's server logs a request after answering it: wait for the lines to arrive
    await new Promise((resolve) => setTimeout(resolve, 300))
    const before = gets()
    t.same(await cycle(), expected.sensors.map((s) => `${s.name}=${String(s.value)}`).sort(), 'again, from the steady state\'s GETs')
    await new Promise((resolve) => setTimeout(resolve, 300))
    const perBoard = (gets() - before) / boards.length
    figures[mockup] = perBoard
    t.ok(perBoard <= 3, `${perBoard} GETs per board for one poll cycle on DMTF's server (target: at most 3)`)
    t.same((await get(app, '/led/70000001/0300/off')).json().led_state, 'off')
    if (mockup !== 'public-bladed' && mockup !== 'public-liquid-cooled-server') return
    t.same((await get(app, '/boot_target/70000001/0200/pxe')).json(), { target: 'pxe' }, 'boot override PATCH, read back')
  })
}

t.test('figures', async (t) => {
  t.comment(`DMTF_REQUESTS_PER_BOARD ${JSON.stringify(figures)}`)
  t.equal(Object.keys(figures).length, MOCKUPS.length)
})
