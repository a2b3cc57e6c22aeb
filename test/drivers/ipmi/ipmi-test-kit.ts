/**
 * Test kit for the IPMI command layer: the exchanges recorded from ipmi_sim
 * (test/fixtures/ipmi/recorded-commands.json), a fake BMC built from them that
 * can misbehave on purpose, and for the live tests an ipmi_sim started in a
 * fresh temp dir plus an IpmiRequester that sends each request with
 * `ipmitool raw` (independent of this project's RMCP+ session layer).
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { IpmiCompletionError, IpmiError, NETFN, type IpmiRequester } from '../../../drivers/ipmi/types.js'
import { startSim as startRigSim } from '../../ipmi/sim.js'

interface Teardown { teardown: (fn: () => unknown) => void }

const here = dirname(fileURLToPath(import.meta.url))
export const FIXTURES = join(here, '..', '..', 'fixtures', 'ipmi')

interface Exchange {
  command: string
  netFn: number
  cmd: number
  request: string
  completionCode: number
  response?: string
  note?: string
}

interface RecordedBmc {
  emu: string
  exchanges: Exchange[]
  ipmitool: Record<string, string>
}

interface Recorded {
  about: string
  bmcs: Record<'bmc-a' | 'bmc-b', RecordedBmc>
}

export async function loadRecorded (): Promise<Recorded> {
  return JSON.parse(await readFile(join(FIXTURES, 'recorded-commands.json'), 'utf8')) as Recorded
}

/** The first recorded exchange of netFn/cmd whose request hex starts with `request` (and has no note). */
export function exchange (bmc: RecordedBmc, netFn: number, cmd: number, request = ''): Exchange {
  const e = bmc.exchanges.find(x => x.netFn === netFn && x.cmd === cmd && x.request.startsWith(request) && x.note === undefined)
  if (e === undefined) throw new Error(`no recorded exchange ${netFn}/${cmd}/${request}`)
  return e
}

export function noted (bmc: RecordedBmc, note: string): Exchange {
  const e = bmc.exchanges.find(x => x.note?.startsWith(note) === true)
  if (e === undefined) throw new Error(`no recorded exchange noted ${note}`)
  return e
}

export function responseOf (e: Exchange): Buffer {
  if (e.response === undefined) throw new Error(`${e.command} has no response (completion code 0x${e.completionCode.toString(16)})`)
  return Buffer.from(e.response, 'hex')
}

/** Every SDR of a recorded repository walk, reassembled from its Get SDR chunks, in walk order. */
export function recordedSdrs (bmc: RecordedBmc): Buffer[] {
  const parts = new Map<number, Buffer[]>()
  for (const e of bmc.exchanges) {
    if (e.netFn !== NETFN.storage || e.cmd !== 0x23 || e.note !== undefined || e.response === undefined) continue
    const req = Buffer.from(e.request, 'hex')
    const id = req.readUInt16LE(2)
    const offset = req[4]
    const list = parts.get(id) ?? []
    list[offset] = responseOf(e).subarray(2)
    parts.set(id, list)
  }
  return [...parts.values()].map(list => Buffer.concat(list.filter(b => b !== undefined)))
}

/** The FRU image reassembled from the recorded Read FRU Data chunks. */
export function recordedFru (bmc: RecordedBmc): Buffer {
  const chunks: Buffer[] = []
  for (const e of bmc.exchanges) {
    if (e.netFn !== NETFN.storage || e.cmd !== 0x11 || e.note !== undefined) continue
    const res = responseOf(e)
    chunks.push(res.subarray(1, 1 + res[0]))
  }
  return Buffer.concat(chunks)
}

/** Recorded Get Sensor Reading answers by sensor number. */
export function recordedReadings (bmc: RecordedBmc): Map<number, Buffer> {
  const out = new Map<number, Buffer>()
  for (const e of bmc.exchanges) {
    if (e.netFn === NETFN.sensorEvent && e.cmd === 0x2d && e.note === undefined) out.set(parseInt(e.request, 16), responseOf(e))
  }
  return out
}

/** What ipmitool printed for the command line containing `args`. */
export function ipmitoolOutput (bmc: RecordedBmc, args: string): string {
  const key = Object.keys(bmc.ipmitool).find(k => k.includes(` ${args}`))
  if (key === undefined) throw new Error(`no ipmitool output for ${args}`)
  return bmc.ipmitool[key]
}

/** `name | value` rows of `sdr elist` / `sensor reading` output. */
export function ipmitoolRows (text: string): Map<string, string[]> {
  const rows = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    if (!line.includes('|')) continue
    const cols = line.split('|').map(c => c.trim())
    rows.set(cols[0], cols.slice(1))
  }
  return rows
}

/** `Label : value` lines of `fru print` (value kept as printed, trailing spaces included). */
export function fruPrintFields (text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = /^ (\S.*?)\s+: (.*)$/.exec(line)
    if (m !== null && !out.has(m[1])) out.set(m[1], m[2])
  }
  return out
}

// ---------------------------------------------------------------------------
// A fake BMC: serves SDRs, readings, FRU, chassis and boot options like
// ipmi_sim does, records every request, and misbehaves on request.

interface LoggedRequest {
  netFn: number
  cmd: number
  data: string
}

interface FakeBmcOptions {
  sdrs: Buffer[]
  readings?: Map<number, Buffer>
  fru?: Buffer
  /** Largest Get SDR read answered; more gets 0xca (ipmi_sim: 33). */
  maxSdrRead?: number
  /** Largest Read FRU Data answered; more gets 0xc8 (ipmi_sim: 34). */
  maxFruRead?: number
}

function cc (netFn: number, cmd: number, code: number): IpmiCompletionError {
  return new IpmiCompletionError(netFn, cmd, code, `completion code 0x${code.toString(16)}`)
}

export class FakeBmc implements IpmiRequester {
  readonly requests: LoggedRequest[] = []
  sdrs: Buffer[]
  readings: Map<number, Buffer>
  fru: Buffer
  maxSdrRead: number
  maxFruRead: number
  reservation = 0
  addTimestamp = 0x1000
  eraseTimestamp = 0
  powerOn = true
  identify: string | undefined
  bootSelector = 0
  bootValidByte = 0
  /** When set, Get Chassis Status reports this misc byte (identify bits). */
  chassisMisc = 0x00
  supportsSetInProgress = false
  supportsIdentifyForce = true
  setInProgress = 0
  /** Cancel the reservation after this many more Get SDR requests (then unset). */
  cancelReservationAfter: number | undefined
  /** Cancel the reservation before every partial Get SDR (a repository that never settles). */
  alwaysCancel = false
  /** Read FRU Data answers at most this many bytes (short answers), when set. */
  shortFru: number | undefined
  /** Get SDR answers this many bytes fewer than asked (but at least 1), when set. */
  shortSdr: number | undefined
  /** Next answers to return verbatim (data after completion code), by "netFn/cmd". */
  readonly override = new Map<string, Buffer | IpmiError>()

  constructor (options: FakeBmcOptions) {
    this.sdrs = options.sdrs.map(b => Buffer.from(b))
    this.readings = options.readings ?? new Map()
    this.fru = options.fru ?? Buffer.alloc(0)
    this.maxSdrRead = options.maxSdrRead ?? 33
    this.maxFruRead = options.maxFruRead ?? 34
    this.renumber()
  }

  /** Gives the SDRs record ids 1, 2, 3 ... as ipmi_sim does. */
  renumber (): void {
    this.sdrs.forEach((b, i) => b.writeUInt16LE(i + 1, 0))
  }

  count (netFn: number, cmd: number): number {
    return this.requests.filter(r => r.netFn === netFn && r.cmd === cmd).length
  }

  async request (netFn: number, cmd: number, data: Uint8Array = new Uint8Array(0)): Promise<Buffer> {
    const d = Buffer.from(data)
    this.requests.push({ netFn, cmd, data: d.toString('hex') })
    await Promise.resolve()
    const o = this.override.get(`${netFn}/${cmd}`)
    if (o !== undefined) {
      this.override.delete(`${netFn}/${cmd}`)
      if (o instanceof Error) throw o
      return o
    }
    const key = `${netFn}/${cmd}`
    switch (key) {
      case `${NETFN.app}/1`: return Buffer.from('20010215029f911200010a00000000', 'hex')
      case `${NETFN.chassis}/1`: return Buffer.of(this.powerOn ? 0x01 : 0x00, 0x00, this.chassisMisc)
      case `${NETFN.chassis}/2`: {
        const c = d[0] & 0x0f
        if (c === 0) this.powerOn = false
        else if (c === 1 || c === 2) this.powerOn = true
        else throw cc(netFn, cmd, 0xcc)
        return Buffer.alloc(0)
      }
      case `${NETFN.chassis}/4`:
        if (d.length > 1 && !this.supportsIdentifyForce) throw cc(netFn, cmd, 0xc7)
        this.identify = d.toString('hex')
        return Buffer.alloc(0)
      case `${NETFN.chassis}/8`: return this.setBoot(d, netFn, cmd)
      case `${NETFN.chassis}/9`:
        if (d[0] !== 5) throw cc(netFn, cmd, 0xcc)
        return Buffer.of(0x01, 0x05, this.bootValidByte, this.bootSelector << 2, 0, 0, 0)
      case `${NETFN.storage}/32`: {
        const b = Buffer.alloc(14)
        b[0] = 0x51
        b.writeUInt16LE(this.sdrs.length, 1)
        b.writeUInt16LE(0xfffe, 3)
        b.writeUInt32LE(this.addTimestamp, 5)
        b.writeUInt32LE(this.eraseTimestamp, 9)
        b[13] = 0x02
        return b
      }
      case `${NETFN.storage}/34`:
        this.reservation = (this.reservation + 1) & 0xffff || 1
        return Buffer.of(this.reservation & 0xff, this.reservation >> 8)
      case `${NETFN.storage}/35`: return this.getSdr(d, netFn, cmd)
      case `${NETFN.sensorEvent}/45`: {
        const r = this.readings.get(d[0])
        if (r === undefined) throw cc(netFn, cmd, 0xcb)
        return r
      }
      case `${NETFN.storage}/16`:
        if (d[0] !== 0) throw cc(netFn, cmd, 0xcb)
        return Buffer.of(this.fru.length & 0xff, this.fru.length >> 8, 0x00)
      case `${NETFN.storage}/17`: {
        const offset = d.readUInt16LE(1)
        const count = d[3]
        if (count > this.maxFruRead) throw cc(netFn, cmd, 0xc8)
        if (offset >= this.fru.length) throw cc(netFn, cmd, 0xc9)
        const n = Math.min(count, this.fru.length - offset, this.shortFru ?? 255)
        return Buffer.concat([Buffer.of(n), this.fru.subarray(offset, offset + n)])
      }
      default: throw cc(netFn, cmd, 0xc1)
    }
  }

  private setBoot (d: Buffer, netFn: number, cmd: number): Buffer {
    switch (d[0] & 0x7f) {
      case 0:
        if (!this.supportsSetInProgress) throw cc(netFn, cmd, 0xcc)
        this.setInProgress = d[1]
        return Buffer.alloc(0)
      case 4: return Buffer.alloc(0)
      case 5:
        if (d.length < 6) throw cc(netFn, cmd, 0xc7)
        this.bootValidByte = d[1]
        this.bootSelector = (d[2] >> 2) & 0x0f
        return Buffer.alloc(0)
      default: throw cc(netFn, cmd, 0x80)
    }
  }

  private getSdr (d: Buffer, netFn: number, cmd: number): Buffer {
    const res = d.readUInt16LE(0)
    const id = d.readUInt16LE(2)
    const offset = d[4]
    const count = d[5]
    if (this.cancelReservationAfter !== undefined) {
      if (this.cancelReservationAfter === 0) {
        this.reservation++
        this.cancelReservationAfter = undefined
      } else this.cancelReservationAfter--
    }
    if (this.alwaysCancel && offset !== 0) this.reservation++
    if (res !== 0 && res !== this.reservation) throw cc(netFn, cmd, 0xc5)
    const index = id === 0 ? 0 : this.sdrs.findIndex(b => b.readUInt16LE(0) === id)
    if (index < 0 || index >= this.sdrs.length) throw cc(netFn, cmd, 0xcb)
    const rec = this.sdrs[index]
    if (offset >= rec.length) throw cc(netFn, cmd, 0xc9)
    let n = Math.min(count, rec.length - offset)
    if (n > this.maxSdrRead) throw cc(netFn, cmd, 0xca)
    if (this.shortSdr !== undefined && offset !== 0) n = Math.max(1, n - this.shortSdr)
    const next = index + 1 < this.sdrs.length ? this.sdrs[index + 1].readUInt16LE(0) : 0xffff
    return Buffer.concat([Buffer.of(next & 0xff, next >> 8), rec.subarray(offset, offset + n)])
  }
}

// ---------------------------------------------------------------------------
// ipmi_sim on loopback, driven with ipmitool

export interface Sim {
  port: number
  dir: string
  requester: IpmitoolRequester
  /** Runs ipmitool against the simulator; resolves with stdout. */
  ipmitool: (args: string[]) => Promise<string>
  /** Identify value last written by ipmi_sim's chassis_control ("<interval> <force>"). */
  identifyFile: () => Promise<string>
  stop: () => Promise<void>
}

function runIpmitool (port: number, args: string[]): Promise<{ stdout: string, stderr: string, failed: boolean }> {
  return new Promise(resolve => {
    execFile('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'ADMIN', '-E', '-C', '3', ...args], {
      env: { ...process.env, IPMI_PASSWORD: 'ADMIN', TZ: 'UTC' }, timeout: 15000
    }, (err, stdout, stderr) => resolve({ stdout, stderr, failed: err !== null }))
  })
}

/** An IpmiRequester that sends each request with `ipmitool raw` (one RMCP+ session per request). */
export class IpmitoolRequester implements IpmiRequester {
  constructor (readonly port: number) {}

  async request (netFn: number, cmd: number, data: Uint8Array = new Uint8Array(0)): Promise<Buffer> {
    const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`
    const r = await runIpmitool(this.port, ['raw', hex(netFn), hex(cmd), ...[...data].map(hex)])
    if (!r.failed) return Buffer.from(r.stdout.replace(/\s+/g, ''), 'hex')
    const m = /rsp=0x([0-9a-f]{2})/i.exec(r.stderr)
    if (m !== null) throw new IpmiCompletionError(netFn, cmd, parseInt(m[1], 16), `completion code 0x${m[1]}`)
    throw new IpmiError('session', `ipmitool raw failed: ${r.stderr.trim()}`)
  }
}

/** Starts ipmi_sim (test/ipmi/sim.ts's rig) with one of the fixtures' .emu files on a free loopback port, stopped at teardown. */
export async function startSim (t: Teardown, emu: string): Promise<Sim> {
  const sim = await startRigSim(t, { emu: join(FIXTURES, emu) })
  return {
    port: sim.port,
    dir: sim.dir,
    requester: new IpmitoolRequester(sim.port),
    ipmitool: async args => (await runIpmitool(sim.port, args)).stdout,
    identifyFile: async () => (await readFile(join(sim.dir, 'power.0x20.identify'), 'utf8')).trim(),
    stop: sim.stop
  }
}
