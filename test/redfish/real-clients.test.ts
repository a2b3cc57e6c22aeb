import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import t from 'tap'
import { CLI, operatorEnv } from '../cli-process.js'
import { fixture } from '../helper.js'
import { packageRoot } from '../../config/paths.js'

/**
 * The Redfish BMC emulator, run as an operator runs it (`opendcre
 * redfish-emulator`), driven by independent Redfish clients: DMTF's
 * redfishtool (CLI) and OpenStack's sushy (Python library), both Debian
 * packages installed by .ci/run.
 */

interface Result { code: number, stdout: string, stderr: string }

function run (command: string, args: string[], timeoutMs = 30_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, env: operatorEnv() }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

/** `opendcre redfish-emulator --port 0 --count N [CONFIG]`: resolves with the URLs it logs. */
function startEmulator (args: string[], count = 1): Promise<{ child: ChildProcess, urls: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'redfish-emulator', '--port', '0', '--count', String(count), ...args], { cwd: packageRoot, env: operatorEnv() })
    const urls: string[] = []
    let output = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no listening line within 30 s:\n${output}`)) }, 30_000)
    child.stderr.on('data', (d) => { output += String(d) })
    createInterface({ input: child.stdout }).on('line', (line) => {
      output += line + '\n'
      const match = /Redfish emulator listening at (https?:\/\/127\.0\.0\.1:\d+)/.exec(line)
      if (match === null) return
      urls.push(match[1])
      if (urls.length === count) {
        clearTimeout(timer)
        resolve({ child, urls })
      }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${String(code)}:\n${output}`)) })
  })
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

const hostPort = (url: string): string => new URL(url).host

t.test('redfishtool: systems and chassis listed, power off/on/reset, boot override, indicator LED, sensors', async (t) => {
  const { child, urls } = await startEmulator([])
  t.teardown(async () => await stop(child))
  for (const auth of ['Session', 'Basic']) {
    const rt = async (...args: string[]): Promise<Result> => await run('redfishtool', ['-r', hostPort(urls[0]), '-S', 'Never', '-A', auth, '-u', 'ADMIN', '-p', 'ADMIN', ...args])
    const systems = await rt('Systems')
    t.equal(systems.code, 0, systems.stderr)
    t.same(JSON.parse(systems.stdout).Members, [{ '@odata.id': '/redfish/v1/Systems/1' }], `${auth}: the systems`)
    const chassis = await rt('Chassis', 'list')
    t.equal(chassis.code, 0, chassis.stderr)
    t.match(chassis.stdout, '/redfish/v1/Chassis/1')

    const state = async (): Promise<Record<string, any>> => JSON.parse((await rt('Systems', '-1')).stdout)
    t.equal((await rt('Systems', '-1', 'reset', 'ForceOff')).code, 0)
    t.equal((await state()).PowerState, 'Off', `${auth}: ForceOff`)
    t.equal((await rt('Systems', '-1', 'reset', 'On')).code, 0)
    t.equal((await state()).PowerState, 'On', `${auth}: On`)
    const thermal = JSON.parse((await rt('Chassis', '-1', 'Thermal')).stdout)
    t.same(thermal.Temperatures.map((x: { Name: string }) => x.Name), ['CPU1 Temp', 'Inlet Temp'], `${auth}: temperatures`)
    t.ok(thermal.Fans.every((f: { Reading: number }) => f.Reading > 4000), 'fans spinning')
    // each redfishtool run is a Python start-up: the rest once, with sessions
    if (auth === 'Basic') continue
    const refused = await rt('Systems', '-1', 'reset', 'Nmi')
    t.not(refused.code, 0, 'a ResetType the service does not allow is refused')

    t.equal((await rt('Systems', '-1', 'setBootOverride', 'Once', 'Pxe')).code, 0)
    t.match((await state()).Boot, { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe' }, `${auth}: boot override`)
    t.equal((await rt('Systems', '-1', 'setBootOverride', 'Disabled', 'None')).code, 0)
    t.match((await state()).Boot, { BootSourceOverrideEnabled: 'Disabled' }, 'override off')

    t.equal((await rt('Systems', '-1', 'setIndicatorLed', 'Lit')).code, 0)
    t.match(await state(), { IndicatorLED: 'Lit', LocationIndicatorActive: true }, `${auth}: indicator LED`)
    t.equal((await rt('Systems', '-1', 'setIndicatorLed', 'Off')).code, 0)
    t.match(await state(), { IndicatorLED: 'Off', LocationIndicatorActive: false })

    t.equal((await rt('Systems', '-1', 'reset', 'GracefulRestart')).code, 0)
    t.equal((await state()).PowerState, 'On', `${auth}: GracefulRestart`)
    const power = JSON.parse((await rt('Chassis', '-1', 'Power')).stdout)
    t.same(power.Voltages.map((x: { Name: string }) => x.Name), ['P12V', 'P3V3'], `${auth}: voltages`)
    t.ok(power.PowerControl[0].PowerConsumedWatts > 150)
  }
  const wrong = await run('redfishtool', ['-r', hostPort(urls[0]), '-S', 'Never', '-A', 'Basic', '-u', 'ADMIN', '-p', 'nope', 'Systems'])
  t.not(wrong.code, 0, 'a wrong password is refused')
})

t.test('redfishtool against injected faults: a 5xx, then a server that goes away and returns', async (t) => {
  const { child, urls } = await startEmulator([])
  t.teardown(async () => await stop(child))
  const rt = async (...args: string[]): Promise<Result> => await run('redfishtool', ['-r', hostPort(urls[0]), '-S', 'Never', '-A', 'Basic', '-u', 'ADMIN', '-p', 'ADMIN', '-T', '2', ...args])
  const faults = async (body: Record<string, unknown>): Promise<void> => {
    const res = await fetch(`${urls[0]}/emulator/faults`, { method: 'POST', body: JSON.stringify(body) })
    t.equal(res.status, 204)
  }
  await faults({ fail_count: 1, fail_status: 500 })
  t.not((await rt('Systems', '-1')).code, 0, 'the injected 500 fails the call')
  t.equal((await rt('Systems', '-1')).code, 0, 'the next call works')
  await faults({ away_ms: 1500 })
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.not((await rt('Systems', '-1')).code, 0, 'while away, nothing answers')
  await new Promise((resolve) => setTimeout(resolve, 1800))
  t.equal((await rt('Systems', '-1')).code, 0, 'back on the same port')
})

t.test('sushy: systems, chassis and managers listed, resets, boot override, indicator LED, thermal sensors', async (t) => {
  const { child, urls } = await startEmulator([], 2)
  t.teardown(async () => await stop(child))
  for (const [url, mode] of [[urls[0], 'session'], [urls[1], 'basic']]) {
    const result = await run('/usr/bin/python3', [fixture('redfish/sushy-check.py'), url, 'ADMIN', 'ADMIN', mode])
    t.equal(result.code, 0, result.stderr)
    const seen = JSON.parse(result.stdout)
    t.same(seen.systems, ['/redfish/v1/Systems/1'], `${mode}: systems`)
    t.same(seen.chassis, ['/redfish/v1/Chassis/1'])
    t.same(seen.managers, ['/redfish/v1/Managers/1'])
    t.same(seen.allowed_resets, ['ForceOff', 'ForceRestart', 'GracefulRestart', 'GracefulShutdown', 'On', 'PowerCycle'])
    t.equal(seen.after_force_off, 'Off')
    t.equal(seen.after_on, 'On')
    t.equal(seen.after_restart, 'On')
    t.same(seen.boot, ['Pxe', 'Once'], `${mode}: boot override`)
    t.equal(seen.indicator_led, 'Lit')
    t.same(seen.temperatures.map((x: [string, number]) => x[0]), ['CPU1 Temp', 'Inlet Temp'], `${mode}: temperatures`)
    t.ok(seen.temperatures.every((x: [string, number]) => x[1] > 15 && x[1] < 60))
    t.same(seen.fans.map((x: [string, number]) => x[0]), ['System Fan 1', 'System Fan 2'])
    t.equal(seen.firmware, '2.14.0-opendcre-emulator')
  }
  // sushy logged out of its session when done
  const faults = await (await fetch(`${urls[0]}/emulator/faults`)).json() as { sessions: number }
  t.equal(faults.sessions, 0, 'sushy deleted its session')
})
