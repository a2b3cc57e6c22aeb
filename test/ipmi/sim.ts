/**
 * A BMC on loopback for tests: OpenIPMI's ipmi_sim with a generated lan.conf
 * in a fresh mkdtemp directory, on a free UDP port of 127.0.0.1, stopped at
 * teardown. Also `ipmitool(sim, args)`, the reference client, bounded in time.
 *
 *   const sim = await startSim(t, { name: 'bmc1' })
 *   await ipmitool(sim, ['mc', 'info'])
 *
 * Things ipmi_sim needs (see /work/shared/ipmi-sim-example/README.md): the state
 * directory must exist; SDRs persist there (so every start gets a new one);
 * lan.conf's chassis_control runs from ipmi_sim's working directory (so it is an
 * absolute path here); RMCP+ needs a `guid` line; `-n` turns off the console.
 * ipmi_sim accepts every cipher suite it knows (0-3 among them) for any user:
 * lan.conf cannot restrict cipher suites, only privilege limits and v1.5 auth types.
 *
 * Measured with this rig (OpenIPMI 2.0.x, ipmi_sim 1.0.13):
 * - at most 63 sessions at once per channel, whatever lan.conf's per-user
 *   max-session says; the 64th Open Session gets status 0x01 (insufficient
 *   resources); Get Session Info (App 0x3D, data 0x00) byte 3 = active sessions;
 * - an idle session expires after about 30 s (kept at 25 s idle, gone at 40 s);
 * - RMCP+ privilege limits are not enforced: a user or channel limited to
 *   operator still gets Set Session Privilege Level (administrator);
 * - with cipher suite 0 (RAKP none) any password is accepted;
 * - after a restart the new process knows no session and silently drops
 *   datagrams for the old one (no error answer), so clients notice by timeout.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { copyFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CMD_GET_CHANNEL_AUTH_CAPABILITIES, NETFN_APP, decodeLanResponse, decodeV15Packet, encodeGetChannelAuthCapabilities, encodeLanRequest, encodeV15Packet } from '../../drivers/ipmi/rmcp/index.js'
import { likeHardware } from '../like-hardware.js'

interface Teardown { teardown: (fn: () => unknown) => void }

const SIM_BASIC_EMU = fileURLToPath(new URL('../fixtures/ipmi/sim-basic.emu', import.meta.url))
const CHASSIS_SCRIPT = `#!/bin/sh
# chassis control for ipmi_sim: power, boot device and the last identify request
# ("interval force") kept in files under $IPMI_SIM_STATE
st=\${IPMI_SIM_STATE:-.}/power.$1
op=$2; shift 2
case "$op" in
  get) for p in "$@"; do case $p in power) echo "power:$(cat $st 2>/dev/null || echo 1)";; boot) echo "boot:$(cat $st.boot 2>/dev/null || echo default)";; esac; done;;
  set) while [ $# -gt 0 ]; do case $1 in power) echo $2 > $st;; boot) echo $2 > $st.boot;; identify) echo "$2" > $st.identify;; esac; shift 2; done;;
  check) ;;
esac
`

interface SimUser {
  name: string
  password: string
  /** Maximum privilege: callback, user, operator or admin. */
  privilege?: 'callback' | 'user' | 'operator' | 'admin'
  enabled?: boolean
}

interface SimOptions {
  name?: string
  /** The .emu command file; default test/fixtures/ipmi/sim-basic.emu. */
  emu?: string
  /** The administrator user (user 2); default ADMIN / ADMIN. */
  user?: string
  password?: string
  /** More users (numbered from 3). */
  users?: SimUser[]
  /** The channel's privilege limit; default admin. */
  privLimit?: 'user' | 'operator' | 'admin'
  /** UDP port; default a free one. */
  port?: number
  /** Time to wait for the first answer (ms); default 10000. */
  startTimeoutMs?: number
}

export interface Sim {
  host: string
  port: number
  dir: string
  user: string
  password: string
  /** The running ipmi_sim's pid (changes on restart). */
  readonly pid: number | undefined
  stop: () => Promise<void>
  /** Stops and starts again on the same port and chassis state (SDRs in a fresh state directory). */
  restart: () => Promise<void>
  /** Runs again after stop() on the same port. */
  start: () => Promise<void>
}

export async function freeUdpPort (): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()))
  const port = s.address().port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

function lanConf (o: Required<Pick<SimOptions, 'name' | 'user' | 'password' | 'privLimit'>> & { users: SimUser[], port: number, chassis: string }): string {
  const auths = 'none md2 md5 straight'
  const q = (s: string): string => `"${s.replace(/"/g, '')}"`
  return [
    `name ${q(o.name)}`,
    'set_working_mc 0x20',
    '  startlan 1',
    `    addr 127.0.0.1 ${o.port}`,
    `    priv_limit ${o.privLimit}`,
    `    allowed_auths_callback ${auths}`,
    `    allowed_auths_user ${auths}`,
    `    allowed_auths_operator ${auths}`,
    `    allowed_auths_admin ${auths}`,
    '    guid a123456789abcdefa123456789abcdef',
    '  endlan',
    `  chassis_control "${o.chassis} 0x20"`,
    `  user 1 true  ""  "test" user 10 ${auths}`,
    `  user 2 true  ${q(o.user)} ${q(o.password)} admin 10 ${auths}`,
    ...o.users.map((u, i) => `  user ${i + 3} ${u.enabled === false ? 'false' : 'true'} ${q(u.name)} ${q(u.password)} ${u.privilege ?? 'admin'} 10 ${auths}`),
    ''
  ].join('\n')
}

/** Resolves once the BMC answers Get Channel Authentication Capabilities on host:port. */
export async function waitForBmc (host: string, port: number, timeoutMs: number): Promise<boolean> {
  const socket = createSocket('udp4')
  socket.on('error', () => {})
  const ping = encodeV15Packet(encodeLanRequest({ netFn: NETFN_APP, cmd: CMD_GET_CHANNEL_AUTH_CAPABILITIES, rqSeq: 1, data: encodeGetChannelAuthCapabilities(4) }))
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await new Promise<boolean>((resolve) => {
      const until = Date.now() + timeoutMs
      socket.on('message', (msg) => {
        try {
          if (decodeLanResponse(decodeV15Packet(msg).message).cmd === CMD_GET_CHANNEL_AUTH_CAPABILITIES) resolve(true)
        } catch {}
      })
      const tick = (): void => {
        if (Date.now() > until) { resolve(false); return }
        socket.send(ping, port, host, () => {})
        timer = setTimeout(tick, 50)
      }
      tick()
    })
  } finally {
    clearTimeout(timer)
    socket.close()
  }
}

export async function startSim (t: Teardown, options: SimOptions = {}): Promise<Sim> {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-ipmi-sim-'))
  const name = options.name ?? 'bmc'
  const user = options.user ?? 'ADMIN'
  const password = options.password ?? 'ADMIN'
  const chassis = join(dir, 'chassis.sh')
  writeFileSync(chassis, CHASSIS_SCRIPT)
  chmodSync(chassis, 0o755)
  const emu = join(dir, 'sim.emu')
  copyFileSync(options.emu ?? SIM_BASIC_EMU, emu)
  let port = options.port ?? await freeUdpPort()
  const writeConf = (): void => writeFileSync(join(dir, 'lan.conf'), lanConf({
    name, user, password, privLimit: options.privLimit ?? 'admin', users: options.users ?? [], port, chassis
  }))
  writeConf()

  let child: ChildProcess | undefined
  let runs = 0
  let stderr = ''

  const launch = async (): Promise<boolean> => {
    const state = join(dir, `state-${runs++}`)
    mkdirSync(state)
    stderr = ''
    const c = spawn('ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', emu, '-s', state, '-n'], {
      cwd: dir,
      env: { ...process.env, IPMI_SIM_STATE: dir },
      stdio: ['ignore', 'ignore', 'pipe']
    })
    c.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    likeHardware(c)
    child = c
    const exited = new Promise<boolean>((resolve) => {
      c.once('exit', () => resolve(false))
      c.once('error', (err) => { stderr += String(err); resolve(false) }) // e.g. ipmi_sim not installed
    })
    const up = await Promise.race([waitForBmc('127.0.0.1', port, options.startTimeoutMs ?? 10000), exited])
    if (!up) await stop()
    return up
  }

  const stop = async (): Promise<void> => {
    const c = child
    child = undefined
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()))
    c.kill('SIGKILL')
    await gone
  }

  const start = async (): Promise<void> => {
    if (await launch()) return
    throw new Error(`ipmi_sim did not answer on 127.0.0.1:${port}: ${stderr}`)
  }

  t.teardown(async () => {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })

  // a free port probed by bind/close can be taken in between: try a few
  for (let attempt = 0; ; attempt++) {
    if (await launch()) break
    if (options.port !== undefined || attempt >= 2) throw new Error(`ipmi_sim did not answer on 127.0.0.1:${port}: ${stderr}`)
    port = await freeUdpPort()
    writeConf()
  }

  return {
    host: '127.0.0.1',
    port,
    dir,
    user,
    password,
    get pid () { return child?.pid },
    stop,
    start,
    restart: async () => { await stop(); await start() }
  }
}

interface IpmitoolOptions {
  /** Cipher suite (-C); default 3. */
  cipher?: number
  user?: string
  password?: string
  timeoutMs?: number
}

/** Runs `ipmitool -I lanplus` against the simulator and resolves with its stdout. */
export function ipmitool (sim: Pick<Sim, 'host' | 'port' | 'user' | 'password'>, args: string[], options: IpmitoolOptions = {}): Promise<string> {
  const argv = ['-I', 'lanplus', '-H', sim.host, '-p', String(sim.port), '-U', options.user ?? sim.user, '-P', options.password ?? sim.password,
    '-C', String(options.cipher ?? 3), '-N', '1', '-R', '2', ...args]
  return new Promise((resolve, reject) => {
    execFile('ipmitool', argv, { timeout: options.timeoutMs ?? 15000 }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`ipmitool ${args.join(' ')} failed: ${stderr.trim() || err.message}`))
      else resolve(stdout)
    })
  })
}
