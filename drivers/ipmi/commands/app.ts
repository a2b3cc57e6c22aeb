/**
 * Application commands (netFn 0x06, IPMI v2.0 §20): Get Device ID. The
 * session's own App commands (channel capabilities, privilege, close) are in
 * ../rmcp/session-commands.ts.
 */
import { need } from './internal.js'

// ---------------------------------------------------------------------------
// Get Device ID (§20.1): netFn app, cmd 0x01, no request data

export interface DeviceId {
  deviceId: number
  deviceRevision: number
  providesDeviceSdrs: boolean
  /** false while a firmware or SDR update is in progress (byte 3 bit 7 set). */
  deviceAvailable: boolean
  firmwareMajor: number
  /** BCD-encoded minor revision, decoded (0x15 -> 15). */
  firmwareMinor: number
  /** "major.minor" as ipmitool prints it, minor with two digits ("2.15"). */
  firmwareVersion: string
  /** "2.0" for 0x02 (BCD, most significant digit in bits 3:0). */
  ipmiVersion: string
  additionalDeviceSupport: number
  manufacturerId: number
  productId: number
  auxFirmwareRevision?: Buffer
}

export function packGetDeviceIdRequest (): Uint8Array {
  return new Uint8Array(0)
}

function bcdByte (b: number): number {
  return (b >> 4) * 10 + (b & 0x0f)
}

export function unpackGetDeviceIdResponse (data: Buffer): DeviceId {
  need(data, 11, 'Get Device ID')
  const firmwareMajor = data[2] & 0x7f
  const firmwareMinor = bcdByte(data[3])
  return {
    deviceId: data[0],
    deviceRevision: data[1] & 0x0f,
    providesDeviceSdrs: (data[1] & 0x80) !== 0,
    deviceAvailable: (data[2] & 0x80) === 0,
    firmwareMajor,
    firmwareMinor,
    firmwareVersion: `${firmwareMajor}.${String(firmwareMinor).padStart(2, '0')}`,
    ipmiVersion: `${data[4] & 0x0f}.${data[4] >> 4}`,
    additionalDeviceSupport: data[5],
    manufacturerId: data[6] | (data[7] << 8) | ((data[8] & 0x0f) << 16),
    productId: data.readUInt16LE(9),
    ...(data.length >= 15 ? { auxFirmwareRevision: Buffer.from(data.subarray(11, 15)) } : {})
  }
}
