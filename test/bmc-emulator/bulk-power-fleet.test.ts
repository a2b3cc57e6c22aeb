import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { BmcFleet } from '../../emulators/bmc/bmc-fleet.js'
import { build, PREFIX } from '../helper.js'
import { steadyConfig } from './emulator-kit.js'

/**
 * Issue 25's end-to-end check: a bulk power-on of 1,000 emulated BMCs (one
 * socket each, off, each taking 300 ms to report on) through the API, under a
 * policy of 100 at once. Every board is confirmed on by a read-back; the
 * emulator's own recorder saw at most 100 switching at any moment; every
 * BMC is really on; each switch is in the audit log with the task id.
 */
const COUNT = 1000
const K = 100

t.test(`a bulk power-on of ${COUNT} emulated BMCs, ${K} at once, each confirmed`, { timeout: 120_000 }, async (t) => {
  const fleet = await BmcFleet.start(steadyConfig((c) => { c.chassis = { ...c.chassis, power: 'off', power_on_delay_ms: 300 } }), { host: '127.0.0.1', port: 0, count: COUNT })
  t.teardown(async () => await fleet.close())
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-bulk-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({ bmcs: fleet.ports.map((port) => ({ bmc_ip: '127.0.0.1', bmc_port: port, username: 'ADMIN', password: 'ADMIN', cipher_suite: 3 })) }))
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify({ poll: { enabled: false } }))
  const auditLog = join(dir, 'audit.log')
  const app = await build(t, { bmcConfig, config, auditLog })

  const started = Date.now()
  const res = await app.inject({
    method: 'POST',
    url: `${PREFIX}/power`,
    payload: { boards: 'all', backend: 'ipmi', action: 'on', max_concurrent: K, interval_ms: 0, confirm_interval_ms: 100 }
  })
  t.equal(res.statusCode, 202, res.body)
  const { task_id: taskId } = res.json()
  t.ok(Date.now() - started < 5000, 'answered at once, before the boards switch')

  let task: any
  for (;;) {
    task = (await app.inject({ method: 'GET', url: `${PREFIX}/tasks/${String(taskId)}` })).json()
    if (task.state !== 'running') break
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  const seconds = (Date.now() - started) / 1000
  t.comment(`${COUNT} BMCs powered on in ${seconds.toFixed(1)} s; emulator saw at most ${fleet.switching.max} switching; the task at most ${String(task.max_switching)}`)
  t.equal(task.state, 'done')
  t.equal(task.total, COUNT)
  t.equal(task.confirmed, COUNT, 'every board confirmed')
  t.equal(task.failed, 0, JSON.stringify(task.boards.filter((b: any) => b.state === 'failed').slice(0, 3)))
  t.equal(task.skipped, 0)
  t.ok(task.boards.every((b: any) => b.state === 'confirmed' && b.power_status === 'on' && b.attempts >= 1), 'each board read back on')
  t.ok(fleet.servers.every((s) => s.device.power === 'on'), 'every emulated BMC is on')
  t.equal(fleet.switching.started_total, COUNT, 'one power-up each: none re-sent')
  t.ok(fleet.switching.max <= K, `never more than ${K} switching at once (the emulator saw ${fleet.switching.max})`)
  t.ok(fleet.switching.max > K / 2, 'and the policy was used: many at once, not one by one')
  t.ok(task.max_switching <= K)
  // 1000 / 100 waves of >= 300 ms: well above 3 s, far below one by one (300 s)
  t.ok(seconds < 60, `bounded: ${seconds.toFixed(1)} s`)

  // a repeat finds every board on and switches none
  const again = await app.inject({ method: 'POST', url: `${PREFIX}/power`, payload: { boards: 'all', backend: 'ipmi', action: 'on', dry_run: true } })
  t.equal(again.statusCode, 200)
  t.equal(again.json().to_switch, 0)
  t.equal(again.json().skipped.length, COUNT)

  await app.close()
  const lines = readFileSync(auditLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  const switches = lines.filter((l) => l.task_id === taskId)
  t.equal(switches.length, COUNT, 'each board\'s switch audited with the task id')
  t.same(switches[0], { time: switches[0].time, identity: 'anonymous', method: 'TASK', command: 'power on', task_id: taskId, action: 'on', board: '40000001', device: '0100', result: 'ok' })
})
