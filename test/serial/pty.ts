import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { FastifyInstance } from 'fastify'
import { packageRoot } from '../../config/paths.js'
import type { ServerOptions } from '../../server.js'
import { build } from '../helper.js'
import { likeHardware } from '../like-hardware.js'

/**
 * The serial path for real: socat makes a PTY pair, the standalone emulator
 * (`opendcre emulator`, the built CLI) serves one end, the service opens the
 * other with serialport. Everything started here is stopped at teardown.
 */
interface Teardown { teardown: (fn: () => unknown) => void }

const CLI = join(packageRoot, 'dist', 'cli', 'opendcre.js')

function requireSocat (): void {
  const probe = spawnSync('socat', ['-V'])
  if (probe.error !== undefined) {
    throw new Error('socat is needed for the serial-line tests (Debian: apt-get install socat); .ci/run installs it')
  }
}

async function waitFor (what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function kill (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill(signal)
  })
}

export class PtyRig {
  readonly dir: string
  readonly servicePath: string
  readonly devicePath: string
  private socat?: ChildProcess
  private emulator?: ChildProcess

  constructor (t: Teardown, private readonly config: string) {
    requireSocat()
    this.dir = mkdtempSync(join(tmpdir(), 'opendcre-pty-'))
    this.servicePath = join(this.dir, 'tty-service')
    this.devicePath = join(this.dir, 'tty-device')
    t.teardown(async () => {
      await this.stopEmulator()
      await this.stopLink()
      rmSync(this.dir, { recursive: true, force: true })
    })
  }

  /** socat's PTY pair, both ends raw. */
  async startLink (): Promise<void> {
    const end = (path: string): string => `pty,raw,echo=0,link=${path}`
    this.socat = spawn('socat', [end(this.servicePath), end(this.devicePath)], { stdio: 'ignore' })
    likeHardware(this.socat)
    await waitFor('the socat PTY pair', () => existsSync(this.servicePath) && existsSync(this.devicePath))
  }

  async stopLink (): Promise<void> {
    if (this.socat !== undefined) await kill(this.socat)
    this.socat = undefined
    await waitFor('the PTY links to go', () => !existsSync(this.servicePath) && !existsSync(this.devicePath))
  }

  /** The standalone emulator process on the device end; resolves once it serves. */
  async startEmulator (): Promise<void> {
    const child = spawn(process.execPath, [CLI, 'emulator', '--device', this.devicePath, this.config], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '' }
    })
    this.emulator = child
    likeHardware(child)
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! })
      lines.on('line', (line) => {
        if (line.includes('emulator serving')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`emulator exited (${String(code)}) before serving`)))
    })
  }

  /** Kill the emulator process outright, as a crash would. */
  async killEmulator (): Promise<void> {
    if (this.emulator !== undefined) await kill(this.emulator, 'SIGKILL')
    this.emulator = undefined
  }

  async stopEmulator (): Promise<void> {
    if (this.emulator !== undefined) await kill(this.emulator)
    this.emulator = undefined
  }
}

/** A service whose device bus is the PTY, with the emulator process on the other end. */
export async function buildOverPty (t: Teardown, config: string, options: ServerOptions = {}): Promise<{ app: FastifyInstance, rig: PtyRig }> {
  const rig = new PtyRig(t, config)
  await rig.startLink()
  await rig.startEmulator()
  const app = await build(t, { ...options, serial: rig.servicePath })
  return { app, rig }
}
