/**
 * The BMC emulator's config (schema errors name file, field and reason; the
 * shipped realistic BMC has what it promises) and `opendcre bmc-emulator`
 * as a process: N independent BMCs on consecutive ports, faults from flags
 * and from the config's faults section.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { loadBmcEmulatorConfig, validateBmcEmulatorConfig } from '../../emulators/bmc/bmc-emulator-config.js'
import { ConfigError } from '../../drivers/errors.js'
import { CLI, operatorEnv, runCli } from '../cli-process.js'
import { packageRoot } from '../../config/paths.js'
import { ipmitool, SHIPPED_CONFIG } from './emulator-kit.js'

t.test('the shipped BMC: ADMIN/ADMIN administrator, suites 3 and 17, the sensors, FRU, DCMI and SEL it promises', async (t) => {
  const c = loadBmcEmulatorConfig(SHIPPED_CONFIG)
  t.match(c.users, [{ name: 'ADMIN', password: 'ADMIN', privilege: 'administrator' }])
  t.same([...c.cipher_suites].sort((a, b) => a - b), [3, 17])
  const count = (kind: string): number => c.sensors.filter((s) => s.kind === kind).length
  t.ok(count('temperature') >= 3, 'three temperatures at least')
  t.equal(count('fan'), 2)
  t.equal(count('voltage'), 2)
  t.equal(count('current'), 1)
  t.equal(count('power'), 1)
  t.ok(c.sensors.some((s) => s.record === 'compact' || s.kind === 'discrete'), 'a compact record too')
  t.ok(c.fru?.board !== undefined && c.fru.chassis !== undefined && c.fru.product !== undefined)
  t.ok(c.dcmi !== undefined)
  t.ok((c.sel ?? []).length >= 3)
})

const base = JSON.parse(readFileSync(SHIPPED_CONFIG, 'utf8')) as Record<string, unknown>
const cases: Array<{ name: string, change: (c: any) => void, field: string, reason: RegExp }> = [
  { name: 'no users', change: (c) => { delete c.users }, field: 'users', reason: /missing required field/ },
  { name: 'an unknown suite', change: (c) => { c.cipher_suites = [3, 4] }, field: 'cipher_suites[1]', reason: /0, 1, 2, 3, 17/ },
  { name: 'a bad privilege', change: (c) => { c.users[0].privilege = 'root' }, field: 'users[0].privilege', reason: /administrator/ },
  { name: 'a long password', change: (c) => { c.users[0].password = 'x'.repeat(21) }, field: 'users[0].password', reason: /at most 20/ },
  { name: 'a duplicate user', change: (c) => { c.users.push({ ...c.users[0] }) }, field: 'users[3].name', reason: /duplicate user 'ADMIN'/ },
  { name: 'a duplicate sensor number', change: (c) => { c.sensors[1].number = 1 }, field: 'sensors[1].number', reason: /duplicate sensor number 1/ },
  { name: 'M of 0', change: (c) => { c.sensors[0].m = 0 }, field: 'sensors[0].m', reason: /must not be 0/ },
  { name: 'M out of range', change: (c) => { c.sensors[0].m = 600 }, field: 'sensors[0].m', reason: /10-bit/ },
  { name: 'a value above max', change: (c) => { c.sensors[0].value = 99 }, field: 'sensors[0].value', reason: /above max/ },
  { name: 'an unknown kind', change: (c) => { c.sensors[0].kind = 'humidity' }, field: 'sensors[0].kind', reason: /temperature, voltage/ },
  { name: 'a SEL entry for no sensor', change: (c) => { c.sel[0].sensor = 200 }, field: 'sel[0].sensor', reason: /no sensor number 200/ },
  { name: 'an unknown field', change: (c) => { c.colour = 'blue' }, field: '', reason: /takes \{users/ },
  { name: 'a crossing of a missing threshold', change: (c) => { c.faults = { threshold_crossing: { sensor: 1, threshold: 'lnr', after_s: 1 } } }, field: 'faults.threshold_crossing.threshold', reason: /no lnr threshold/ }
]
for (const k of cases) {
  t.test(`config error: ${k.name}`, async (t) => {
    const c = structuredClone(base) as any
    k.change(c)
    const err = t.throws(() => validateBmcEmulatorConfig(c, 'bmc.json')) as ConfigError
    t.type(err, ConfigError)
    t.equal(err.file, 'bmc.json')
    if (k.field !== '') t.equal(err.path, k.field)
    t.match(err.message, k.reason)
  })
}

interface Emulator { child: ChildProcess, firstPort: number }

/** Starts `opendcre bmc-emulator`, resolves on its "listening" line. */
async function startEmulator (t: { teardown: (fn: () => unknown) => void }, args: string[]): Promise<Emulator> {
  const child = spawn(process.execPath, [CLI, 'bmc-emulator', ...args], { cwd: packageRoot, env: operatorEnv() })
  t.teardown(() => { child.kill('SIGKILL') })
  return await new Promise((resolve, reject) => {
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += String(d) })
    const timer = setTimeout(() => reject(new Error(`no listening line: ${stderr}`)), 30_000)
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /"event":"listening".*"first_port":(\d+)/.exec(line)
      if (m !== null) { clearTimeout(timer); resolve({ child, firstPort: Number(m[1]) }) }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${String(code)}: ${stderr}`)) })
  })
}

/**
 * Starts the emulator on a random range of consecutive ports (--count needs a
 * range, not port 0); a range that another test on this machine holds
 * (EADDRINUSE) is given up for another, five tries at most.
 */
async function startOnFreePorts (t: { teardown: (fn: () => unknown) => void }, args: (firstPort: number) => string[]): Promise<Emulator> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEmulator(t, args(20000 + Math.floor(Math.random() * 20000)))
    } catch (err) {
      if (attempt >= 5 || !(err as Error).message.includes('EADDRINUSE')) throw err
    }
  }
}

t.test('opendcre bmc-emulator --count 3: three BMCs on consecutive ports, each with its own state', async (t) => {
  let requested = 0
  const e = await startOnFreePorts(t, (port) => ['--port', String(requested = port), '--count', '3', '--stats-ms', '200', 'emulator-configs/bmc-emulator.json'])
  t.equal(e.firstPort, requested)
  const firstPort = e.firstPort
  const stats = await new Promise<Record<string, number>>((resolve) => {
    createInterface({ input: e.child.stdout! }).on('line', (line) => { if (line.includes('"event":"stats"')) resolve(JSON.parse(line)) })
  })
  t.match(stats, { sessions: 0, active_sessions: 0, datagrams: Number, cpu_percent: Number, rss_mb: Number }, '--stats-ms prints statistics lines')
  t.ok(stats.rss_mb > 10)
  t.equal((await ipmitool(firstPort + 1, 17, ['chassis', 'power', 'off'])).code, 0)
  t.match((await ipmitool(firstPort, 17, ['chassis', 'power', 'status'])).stdout, /is on/)
  t.match((await ipmitool(firstPort + 1, 3, ['chassis', 'power', 'status'])).stdout, /is off/)
  t.match((await ipmitool(firstPort + 2, 17, ['mc', 'info'])).stdout, /Device ID\s+: 32/)
  t.equal((await ipmitool(firstPort + 3, 17, ['mc', 'info'], 'ADMIN', 'ADMIN', ['-N', '1', '-R', '1'])).code === 0, false, 'no fourth BMC')
  e.child.kill('SIGTERM')
})

t.test('faults from the command line (--drop 1) and from the config (a threshold crossing)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bmc-emulator-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const dropped = await startOnFreePorts(t, (port) => ['--port', String(port), '--drop', '1', 'emulator-configs/bmc-emulator.json'])
  const none = await ipmitool(dropped.firstPort, 3, ['mc', 'info'], 'ADMIN', 'ADMIN', ['-N', '1', '-R', '1'])
  t.not(none.code, 0, 'every datagram dropped: no answer')
  dropped.child.kill('SIGTERM')

  const file = join(dir, 'crossing.json')
  writeFileSync(file, JSON.stringify({ ...base, faults: { threshold_crossing: { sensor: 65, threshold: 'lcr', after_s: 0 } } }))
  const crossing = await startOnFreePorts(t, (port) => ['--port', String(port), file])
  await new Promise((resolve) => setTimeout(resolve, 200))
  const sel = (await ipmitool(crossing.firstPort, 17, ['sel', 'list'])).stdout.trim().split('\n')
  t.match(sel[sel.length - 1], /Fan #0x41 \| Lower Critical going low\s+\| Asserted/)
})

t.test('opendcre bmc-emulator refuses a bad config naming the file and the field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bmc-emulator-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'bad.json')
  writeFileSync(file, JSON.stringify({ ...base, cipher_suites: [5] }))
  const r = await runCli(['bmc-emulator', '--port', '0', file])
  t.equal(r.code, 1)
  t.match(r.stderr, `${file}: cipher_suites[0]: must be one of the cipher suites 0, 1, 2, 3, 17`)
  const usage = await runCli(['bmc-emulator'])
  t.equal(usage.code, 1)
  t.match(usage.stderr, /needs one CONFIG file/)
})
