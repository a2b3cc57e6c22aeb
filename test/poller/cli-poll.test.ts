import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { packageRoot } from '../../config/paths.js'
import { exited, serveCli } from '../cli-process.js'
import { startBmc } from '../bmc-emulator/emulator-kit.js'

/**
 * When the poller runs: by default for the embedded default of `opendcre
 * serve` (no --emulator/--serial), not when a bus is named (v1.2's traffic
 * exactly), and as --poll / --no-poll say; BMCs and Redfish servers are
 * polled whenever they are configured.
 */
async function metrics (url: string): Promise<string> {
  return await (await fetch(`${url}/metrics`)).text()
}

const polled = (text: string): number => text.split('\n').filter((l) => l.startsWith('opendcre_reading_age_seconds{') && l.includes('backend="device_bus"')).length
const transactions = (text: string): number => Number(/^opendcre_device_bus_transactions_total\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? NaN)

async function serve (t: { teardown: (fn: () => unknown) => void }, args: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-cli-poll-'))
  const { child, url } = await serveCli(['--log-dir', dir, ...args])
  t.teardown(async () => {
    child.kill('SIGTERM')
    await exited(child)
    rmSync(dir, { recursive: true, force: true })
  })
  return url
}

async function until (what: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await what()) return true
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return false
}

t.test('opendcre serve (the embedded default) polls every device-bus device on its own', async (t) => {
  const url = await serve(t, [])
  t.ok(await until(async () => polled(await metrics(url)) >= 20, 12_000), 'every device of the embedded emulator has a value within one interval')
})

t.test('a named bus: no poller (v1.2 traffic), unless --poll', async (t) => {
  const simple = join(packageRoot, 'emulator-configs', 'simple.json')
  const [off, on] = await Promise.all([serve(t, ['--emulator', simple]), serve(t, ['--emulator', simple, '--poll'])])
  t.ok(await until(async () => polled(await metrics(on)) >= 20, 12_000), '--poll: every device polled')
  const text = await metrics(off)
  t.equal(polled(text), 0, 'without it: no value kept')
  t.equal(transactions(text), 0, 'without it: not one device-bus transaction')
})

t.test('BMCs named beside a bus: the BMCs are polled, the bus is not (v1.2 traffic); --no-poll wins', async (t) => {
  const bmc = await startBmc(t)
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-cli-poll-bmc-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({ bmcs: [{ bmc_ip: '127.0.0.1', bmc_port: bmc.port, username: 'ADMIN', password: 'ADMIN' }] }))
  const simple = join(packageRoot, 'emulator-configs', 'simple.json')
  const [on, off] = await Promise.all([serve(t, ['--emulator', simple, '--bmc-config', bmcConfig]), serve(t, ['--emulator', simple, '--bmc-config', bmcConfig, '--no-poll'])])
  const ipmi = (text: string): number => text.split('\n').filter((l) => l.startsWith('opendcre_sensor_state{') && l.includes('backend="ipmi"')).length
  t.ok(await until(async () => ipmi(await metrics(on)) >= 9, 20_000), 'every BMC sensor has a state without --poll')
  const text = await metrics(on)
  t.equal(polled(text), 0, 'no device-bus value kept')
  t.equal(transactions(text), 0, 'not one device-bus transaction')
  const quiet = await metrics(off)
  t.equal(ipmi(quiet), 0, '--no-poll: no BMC polled')
  t.equal(quiet.split('\n').filter((l) => l.startsWith('opendcre_reading_age_seconds{')).length, 0, '--no-poll: no value kept at all')
})
