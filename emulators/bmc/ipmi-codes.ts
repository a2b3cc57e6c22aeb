/**
 * The numbers the emulated BMC's command handlers and its RMCP+ server share:
 * network functions, privilege levels, completion codes, and the shape of an
 * answer. Section numbers are those of the IPMI v2.0 specification (rev 1.1).
 */

export const NETFN = { chassis: 0x00, sensorEvent: 0x04, app: 0x06, storage: 0x0a, transport: 0x0c, groupExtension: 0x2c } as const
export const PRIV = { callback: 1, user: 2, operator: 3, administrator: 4 } as const
export const PRIVILEGE_LEVEL: Record<'user' | 'operator' | 'administrator', number> = { user: 2, operator: 3, administrator: 4 }

/** Completion codes (§5.2 table 5-2). */
export const CC = {
  ok: 0x00,
  paramNotSupported: 0x80,
  busy: 0xc0,
  invalidCommand: 0xc1,
  reservationCancelled: 0xc5,
  requestDataLengthInvalid: 0xc7,
  parameterOutOfRange: 0xc9,
  cannotReturnRequestedLength: 0xca,
  notPresent: 0xcb,
  invalidDataField: 0xcc,
  notSupportedInPresentState: 0xd5,
  insufficientPrivilege: 0xd4,
  unspecified: 0xff
} as const

/** A command's completion code and response data. */
export interface Answer { cc: number, data?: Uint8Array }
