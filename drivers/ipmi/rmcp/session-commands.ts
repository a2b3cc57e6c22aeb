/**
 * The App commands (netFn 0x06) a session needs around the RMCP+ set-up:
 * Get Channel Authentication Capabilities (§22.13) before it, Set Session
 * Privilege Level and Close Session inside it, Get Device ID as keep-alive.
 */
import { protocol } from './internal.js'

// ---------------------------------------------------------------------------
// §22.13 Get Channel Authentication Capabilities (App 0x38)

export const CMD_GET_CHANNEL_AUTH_CAPABILITIES = 0x38
export const CMD_GET_DEVICE_ID = 0x01
export const CMD_SET_SESSION_PRIVILEGE_LEVEL = 0x3b
export const CMD_CLOSE_SESSION = 0x3c
export const NETFN_APP = 0x06

/** Request data: bit 7 = "get IPMI v2.0 extended data", channel 0xE = this channel; max privilege. */
export function encodeGetChannelAuthCapabilities (privilege: number): Buffer {
  return Buffer.from([0x8e, privilege & 0x0f])
}

interface ChannelAuthCapabilities {
  channel: number
  /** Byte 2 bit 7: IPMI v2.0+ extended capabilities available. */
  extended: boolean
  /** Byte 2 bits 5:0: IPMI v1.5 authentication types (bitmask). */
  authTypes: number
  /** Byte 4 bit 1: IPMI v2.0 connections (RMCP+) supported. */
  ipmi20: boolean
  /** Byte 4 bit 0: IPMI v1.5 connections supported. */
  ipmi15: boolean
  /** Byte 3 bit 5: the BMC has a non-null key Kg. */
  kgSet: boolean
  oemId: number
}

/** Decodes the response data after the completion code (8 bytes). */
export function decodeGetChannelAuthCapabilities (data: Buffer): ChannelAuthCapabilities {
  if (data.length < 8) throw protocol(`Get Channel Authentication Capabilities: 8 data bytes expected, got ${data.length}`)
  return {
    channel: data[0] & 0x0f,
    extended: (data[1] & 0x80) !== 0,
    authTypes: data[1] & 0x3f,
    kgSet: (data[2] & 0x20) !== 0,
    ipmi20: (data[1] & 0x80) !== 0 && (data[3] & 0x02) !== 0,
    ipmi15: (data[1] & 0x80) === 0 || (data[3] & 0x01) !== 0,
    oemId: data[4] | (data[5] << 8) | (data[6] << 16)
  }
}
