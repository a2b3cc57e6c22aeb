/**
 * DCMI (Data Center Manageability Interface v1.5) over IPMI: the one command
 * the bridge asks, Get Power Reading (DCMI v1.5 §6.6.1), netFn 0x2C (group
 * extension), cmd 0x02, every request and answer led by the DCMI group
 * extension id 0xDC. Pure pack/unpack; ../bmc.ts sends it.
 */
import { IpmiError } from '../types.js'

const DCMI_GROUP_EXTENSION = 0xdc
export const DCMI_CMD = { getCapabilities: 0x01, getPowerReading: 0x02 } as const
/** Get Power Reading mode: 0x01 system power statistics (0x02 enhanced statistics is optional). */
const POWER_READING_MODE = { systemPowerStatistics: 0x01 } as const

/** Request: group extension, mode, mode attributes, reserved. */
export function packGetPowerReadingRequest (mode: number = POWER_READING_MODE.systemPowerStatistics): Uint8Array {
  return Uint8Array.of(DCMI_GROUP_EXTENSION, mode, 0x00, 0x00)
}

export interface PowerReading {
  /** Watts, as the BMC measures them now. */
  currentWatts: number
  minimumWatts: number
  maximumWatts: number
  averageWatts: number
  /** IPMI timestamp of the reading (seconds since 1970, BMC clock). */
  timestamp: number
  /** The statistics period (ms). */
  periodMs: number
  /** Power reading state, bit 6: power measurement active. Without it the figures mean nothing. */
  active: boolean
}

/**
 * Response data after the completion code: group extension, current, minimum,
 * maximum, average power (2 bytes each, LS first), timestamp (4), statistics
 * period (4), power reading state (1).
 */
export function unpackGetPowerReadingResponse (data: Buffer): PowerReading {
  if (data.length < 18) throw new IpmiError('protocol', `DCMI Get Power Reading: response of ${data.length} byte(s), 18 expected`)
  if (data[0] !== DCMI_GROUP_EXTENSION) throw new IpmiError('protocol', `DCMI Get Power Reading: group extension 0x${data[0].toString(16)}, expected 0xdc`)
  return {
    currentWatts: data.readUInt16LE(1),
    minimumWatts: data.readUInt16LE(3),
    maximumWatts: data.readUInt16LE(5),
    averageWatts: data.readUInt16LE(7),
    timestamp: data.readUInt32LE(9),
    periodMs: data.readUInt32LE(13),
    active: (data[17] & 0x40) !== 0
  }
}

/** For BMCs (the emulator) and fakes: the answer data of Get Power Reading. */
export function packGetPowerReadingResponse (r: PowerReading): Buffer {
  const out = Buffer.alloc(18)
  out[0] = DCMI_GROUP_EXTENSION
  out.writeUInt16LE(r.currentWatts, 1)
  out.writeUInt16LE(r.minimumWatts, 3)
  out.writeUInt16LE(r.maximumWatts, 5)
  out.writeUInt16LE(r.averageWatts, 7)
  out.writeUInt32LE(r.timestamp >>> 0, 9)
  out.writeUInt32LE(r.periodMs >>> 0, 13)
  out[17] = r.active ? 0x40 : 0x00
  return out
}
