/**
 * What the IPMI command files share: the command codes (appendix G), the
 * completion codes the command layer acts on, and the chunk size a chunked
 * reader learns from a BMC.
 */
import { IpmiCompletionError } from '../types.js'

/** Command codes (IPMI v2.0 appendix G). */
export const CMD = {
  getDeviceId: 0x01, // app
  getChassisStatus: 0x01, // chassis
  chassisControl: 0x02,
  chassisIdentify: 0x04,
  setSystemBootOptions: 0x08,
  getSystemBootOptions: 0x09,
  getSensorReading: 0x2d, // sensor/event
  getSensorThresholds: 0x27, // sensor/event
  getFruInventoryAreaInfo: 0x10, // storage
  readFruData: 0x11,
  getSdrRepositoryInfo: 0x20,
  reserveSdrRepository: 0x22,
  getSdr: 0x23
} as const

/** Completion codes the command layer acts on (§5.2, table 5-2; §28.13; §34.2). */
export const CC = {
  parameterNotSupported: 0x80, // Set/Get System Boot Options
  setInProgressBusy: 0x81, // Set System Boot Options: set-in-progress already set
  fruDeviceBusy: 0x81, // Read FRU Data
  invalidCommand: 0xc1,
  reservationCancelled: 0xc5,
  requestDataLengthInvalid: 0xc7,
  requestDataFieldLengthLimitExceeded: 0xc8,
  parameterOutOfRange: 0xc9,
  cannotReturnRequestedLength: 0xca,
  notPresent: 0xcb,
  invalidDataField: 0xcc,
  unspecified: 0xff
} as const

/** Completion codes that mean "ask for fewer bytes" (ipmitool and FreeIPMI shrink on these). */
export const TOO_BIG_CODES: readonly number[] = [CC.requestDataLengthInvalid, CC.requestDataFieldLengthLimitExceeded, CC.cannotReturnRequestedLength]

export function completionCodeOf (err: unknown): number | undefined {
  return err instanceof IpmiCompletionError ? err.completionCode : undefined
}

/** What a reader learns about a BMC; keep one per BMC so it is learnt once. */
export interface ChunkState {
  /** Bytes asked for per request; shrunk when the BMC answers "too big". */
  chunk: number
}
