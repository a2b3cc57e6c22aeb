import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { build, get } from './helper.js'

/** Every state-changing command appends one line to the audit log, which survives restarts. */
t.test('state changes are audited, reads are not, and the file survives a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-audit-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'audit.log')

  const first = await build(t, { auditLog: file })
  const changes = ['/power/00000001/000d/on', '/power/off/00000001/000d', '/power/power/00000001/000d/cycle',
    '/led/00000001/0005/on', '/fan/00000001/0002/3000', '/boot_target/00000001/0004/pxe', '/led/00000001/0005/blink']
  const reads = ['/power/00000001/000d', '/power/00000001/000d/status', '/power/status/00000001/000d', '/led/00000001/0005',
    '/fan/00000001/0002', '/read/thermistor/00000001/0001', '/scan/00000001', '/boot_target/00000001/0004']
  for (const path of [...changes, ...reads]) await get(first, path)
  await first.close()

  const second = await build(t, { auditLog: file })
  await get(second, '/power/00000001/000d/on')
  await second.close()

  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  t.equal(lines.length, changes.length + 1, 'one line per state change, none for reads, the restart appended')
  t.same(lines.map((l) => l.command), ['power on', 'power off', 'power cycle', 'led on', 'fan 3000', 'boot_target pxe', 'led blink', 'power on'])
  t.same(lines.map((l) => l.method), lines.map(() => 'GET'), 'the method is recorded')
  t.same(lines.map((l) => l.result), ['ok', 'ok', 'ok', 'ok', 'ok', 'failed', 'failed', 'ok'])
  for (const l of lines) {
    t.match(l, { identity: 'anonymous', client: '127.0.0.1', board: String, device: String })
    t.ok(!Number.isNaN(Date.parse(l.time)))
  }
  t.match(lines[1], { board: '00000001', device: '000d' }, 'the deprecated power order names the right target')
  t.equal(lines[5].status, 500)
})
