/**
 * Chassis commands (netFn 0x00, IPMI v2.0 §28): Get Chassis Status, Chassis
 * Control, Chassis Identify, Set / Get System Boot Options.
 */
import { IpmiError } from '../types.js'
import { need } from './internal.js'

// ---------------------------------------------------------------------------
// Get Chassis Status (§28.2): netFn chassis, cmd 0x01, no request data

export type PowerRestorePolicy = 'always-off' | 'previous' | 'always-on' | 'unknown'
/** Byte 3 bits 5:4, meaningful only when bit 6 (identify supported) is set. */
export type IdentifyState = 'off' | 'temporary' | 'indefinite' | 'reserved' | 'unsupported'

export interface ChassisStatus {
  powerOn: boolean
  powerOverload: boolean
  powerInterlock: boolean
  powerFault: boolean
  powerControlFault: boolean
  powerRestorePolicy: PowerRestorePolicy
  lastPowerEvent: number
  chassisIntrusion: boolean
  frontPanelLockout: boolean
  driveFault: boolean
  coolingFault: boolean
  identifySupported: boolean
  identifyState: IdentifyState
  frontPanelButtons?: number
}

const RESTORE_POLICIES: PowerRestorePolicy[] = ['always-off', 'previous', 'always-on', 'unknown']
const IDENTIFY_STATES: IdentifyState[] = ['off', 'temporary', 'indefinite', 'reserved']

export function packGetChassisStatusRequest (): Uint8Array {
  return new Uint8Array(0)
}

export function unpackGetChassisStatusResponse (data: Buffer): ChassisStatus {
  need(data, 3, 'Get Chassis Status')
  const [power, last, misc] = data
  const identifySupported = (misc & 0x40) !== 0
  return {
    powerOn: (power & 0x01) !== 0,
    powerOverload: (power & 0x02) !== 0,
    powerInterlock: (power & 0x04) !== 0,
    powerFault: (power & 0x08) !== 0,
    powerControlFault: (power & 0x10) !== 0,
    powerRestorePolicy: RESTORE_POLICIES[(power >> 5) & 0x03],
    lastPowerEvent: last,
    chassisIntrusion: (misc & 0x01) !== 0,
    frontPanelLockout: (misc & 0x02) !== 0,
    driveFault: (misc & 0x04) !== 0,
    coolingFault: (misc & 0x08) !== 0,
    identifySupported,
    identifyState: identifySupported ? IDENTIFY_STATES[(misc >> 4) & 0x03] : 'unsupported',
    ...(data.length >= 4 ? { frontPanelButtons: data[3] } : {})
  }
}

// ---------------------------------------------------------------------------
// Chassis Control (§28.3): netFn chassis, cmd 0x02, one byte: the control code

export const CHASSIS_CONTROL = { powerDown: 0x00, powerUp: 0x01, powerCycle: 0x02, hardReset: 0x03, pulseDiagnostic: 0x04, softShutdown: 0x05 } as const

export function packChassisControlRequest (control: number): Uint8Array {
  return Uint8Array.of(control & 0x0f)
}

// ---------------------------------------------------------------------------
// Chassis Identify (§28.5): netFn chassis, cmd 0x04
// byte 1 (optional): identify interval in seconds, 0 = off (default 15 s);
// byte 2 (optional): bit 0 = 1 turns identify on indefinitely, overriding byte 1.

export function packChassisIdentifyRequest (intervalSeconds?: number, forceOn?: boolean): Uint8Array {
  if (intervalSeconds === undefined) return new Uint8Array(0)
  if (!Number.isInteger(intervalSeconds) || intervalSeconds < 0 || intervalSeconds > 255) {
    throw new RangeError(`identify interval ${intervalSeconds} is not 0..255 seconds`)
  }
  return forceOn === undefined ? Uint8Array.of(intervalSeconds) : Uint8Array.of(intervalSeconds, forceOn ? 0x01 : 0x00)
}

// ---------------------------------------------------------------------------
// Set / Get System Boot Options (§28.12, §28.13, table 28-14)

export const BOOT_PARAM = { setInProgress: 0x00, bootFlagValidBitClearing: 0x03, bootInfoAcknowledge: 0x04, bootFlags: 0x05 } as const
export const SET_IN_PROGRESS = { setComplete: 0x00, setInProgress: 0x01, commitWrite: 0x02 } as const

/** Boot device selector, parameter 5 data byte 2 bits 5:2 (table 28-14). */
const BOOT_DEVICES: Record<number, string> = {
  0x0: 'no_override',
  0x1: 'pxe',
  0x2: 'hdd',
  0x3: 'hdd_safe_mode',
  0x4: 'diagnostic_partition',
  0x5: 'cdrom',
  0x6: 'bios_setup',
  0x7: 'remote_floppy',
  0x8: 'remote_cdrom',
  0x9: 'primary_remote_media',
  0xb: 'remote_hdd',
  0xf: 'floppy'
}

export interface BootFlags {
  /** Data byte 1 bit 7: the flags are valid (the BMC clears it after a boot or 60 s). */
  valid: boolean
  /** Data byte 1 bit 6: applies to all future boots (else only the next one). */
  persistent: boolean
  /** Data byte 1 bit 5: EFI boot (else PC compatible / legacy). */
  efi: boolean
  /** Data byte 2 bits 5:2. */
  deviceSelector: number
  /** BOOT_DEVICES name of the selector, or 'reserved'. */
  device: string
  cmosClear: boolean
  lockKeyboard: boolean
  screenBlank: boolean
  lockOutResetButton: boolean
  /** The five data bytes as received. */
  data: Buffer
}

interface BootOptionResponse {
  parameterVersion: number
  parameter: number
  /** Byte 2 bit 7: parameter marked invalid / locked. */
  parameterInvalid: boolean
  data: Buffer
}

export function packGetSystemBootOptionsRequest (parameter: number, setSelector = 0, blockSelector = 0): Uint8Array {
  return Uint8Array.of(parameter & 0x7f, setSelector, blockSelector)
}

function unpackGetSystemBootOptionsResponse (data: Buffer): BootOptionResponse {
  need(data, 2, 'Get System Boot Options')
  return {
    parameterVersion: data[0],
    parameter: data[1] & 0x7f,
    parameterInvalid: (data[1] & 0x80) !== 0,
    data: Buffer.from(data.subarray(2))
  }
}

/** Parameter 5's data bytes (table 28-14). */
export function decodeBootFlags (data: Buffer): BootFlags {
  need(data, 2, 'Boot flags parameter')
  const deviceSelector = (data[1] >> 2) & 0x0f
  return {
    valid: (data[0] & 0x80) !== 0,
    persistent: (data[0] & 0x40) !== 0,
    efi: (data[0] & 0x20) !== 0,
    deviceSelector,
    device: BOOT_DEVICES[deviceSelector] ?? 'reserved',
    cmosClear: (data[1] & 0x80) !== 0,
    lockKeyboard: (data[1] & 0x40) !== 0,
    screenBlank: (data[1] & 0x02) !== 0,
    lockOutResetButton: (data[1] & 0x01) !== 0,
    data: Buffer.from(data.subarray(0, 5))
  }
}

/** Get System Boot Options answer for parameter 5, checked and decoded. */
export function unpackBootFlagsResponse (data: Buffer): BootFlags & { parameterInvalid: boolean } {
  const res = unpackGetSystemBootOptionsResponse(data)
  if (res.parameter !== BOOT_PARAM.bootFlags) {
    throw new IpmiError('protocol', `Get System Boot Options: asked for parameter 5, got parameter ${res.parameter}`)
  }
  return { ...decodeBootFlags(res.data), parameterInvalid: res.parameterInvalid }
}

/** Byte 1: parameter selector, bit 7 clear = mark the parameter valid; then its data. */
export function packSetSystemBootOptionsRequest (parameter: number, data: Uint8Array): Uint8Array {
  return Uint8Array.of(parameter & 0x7f, ...data)
}

/**
 * Parameter 5 data for a boot device override, as ipmitool's `chassis bootdev`
 * writes it: byte 1 = valid (0x80) | persistent (0x40) | EFI (0x20), byte 2 =
 * selector << 2, bytes 3-5 zero.
 */
export function encodeBootFlags (deviceSelector: number, options: { persistent?: boolean, efi?: boolean, valid?: boolean } = {}): Uint8Array {
  if (!Number.isInteger(deviceSelector) || deviceSelector < 0 || deviceSelector > 0x0f) {
    throw new RangeError(`boot device selector ${deviceSelector} is not 0..15`)
  }
  const byte1 = (options.valid === false ? 0 : 0x80) | (options.persistent === true ? 0x40 : 0) | (options.efi === true ? 0x20 : 0)
  return Uint8Array.of(byte1, deviceSelector << 2, 0, 0, 0)
}
