/**
 * The IPMI LAN message (IPMI v2.0 §13.8) that an IPMI payload carries inside
 * either session wrapper: addresses, netFn/LUN, sequence, command, data and
 * the two IPMB checksums. Both directions, so the BMC emulator and the test
 * fakes use the same code as the client.
 */
import { protocol } from './internal.js'

// ---------------------------------------------------------------------------
// §13.8 IPMI LAN message (table 13-4 request, 13-5 response) and its checksums

/** BMC responder address (§5.5: the BMC is 0x20) and the remote console's software id (0x81). */
const BMC_SLAVE_ADDRESS = 0x20
const REMOTE_CONSOLE_SWID = 0x81

/** IPMB checksum: the two's complement of the byte sum of buf[start, end). */
export function ipmbChecksum (buf: Uint8Array, start: number, end: number): number {
  let sum = 0
  for (let i = start; i < end; i++) sum += buf[i]
  return (0x100 - (sum & 0xff)) & 0xff
}

interface LanRequest {
  netFn: number
  cmd: number
  /** 6-bit requester sequence number, echoed by the BMC. */
  rqSeq: number
  data?: Uint8Array
  rsAddr?: number
  rsLun?: number
  rqAddr?: number
  rqLun?: number
}

/** rsAddr, netFn/rsLUN, checksum, rqAddr, rqSeq/rqLUN, cmd, data, checksum (§13.8). */
export function encodeLanRequest (req: LanRequest): Buffer {
  const data = req.data ?? EMPTY
  const out = Buffer.allocUnsafe(7 + data.length)
  out[0] = req.rsAddr ?? BMC_SLAVE_ADDRESS
  out[1] = ((req.netFn & 0x3f) << 2) | ((req.rsLun ?? 0) & 0x03)
  out[2] = ipmbChecksum(out, 0, 2)
  out[3] = req.rqAddr ?? REMOTE_CONSOLE_SWID
  out[4] = ((req.rqSeq & 0x3f) << 2) | ((req.rqLun ?? 0) & 0x03)
  out[5] = req.cmd
  out.set(data, 6)
  out[6 + data.length] = ipmbChecksum(out, 3, 6 + data.length)
  return out
}

export interface LanResponse {
  rqAddr: number
  /** The response netFn (request netFn + 1). */
  netFn: number
  rqLun: number
  rsAddr: number
  rqSeq: number
  rsLun: number
  cmd: number
  completionCode: number
  /** Response data after the completion code. */
  data: Buffer
}

/** rqAddr, netFn/rqLUN, checksum, rsAddr, rqSeq/rsLUN, cmd, completion code, data, checksum (§13.8). */
export function decodeLanResponse (buf: Buffer): LanResponse {
  if (buf.length < 8) throw protocol(`IPMI LAN response needs at least 8 bytes, got ${buf.length}`)
  if (ipmbChecksum(buf, 0, 3) !== 0) throw protocol('IPMI LAN response: header checksum mismatch')
  if (ipmbChecksum(buf, 3, buf.length) !== 0) throw protocol('IPMI LAN response: data checksum mismatch')
  return {
    rqAddr: buf[0],
    netFn: buf[1] >> 2,
    rqLun: buf[1] & 0x03,
    rsAddr: buf[3],
    rqSeq: buf[4] >> 2,
    rsLun: buf[4] & 0x03,
    cmd: buf[5],
    completionCode: buf[6],
    data: buf.subarray(7, buf.length - 1)
  }
}

/** Decodes a request the way a BMC would (for tests and fakes). */
export function decodeLanRequest (buf: Buffer): Required<LanRequest> & { data: Buffer } {
  if (buf.length < 7) throw protocol(`IPMI LAN request needs at least 7 bytes, got ${buf.length}`)
  if (ipmbChecksum(buf, 0, 3) !== 0) throw protocol('IPMI LAN request: header checksum mismatch')
  if (ipmbChecksum(buf, 3, buf.length) !== 0) throw protocol('IPMI LAN request: data checksum mismatch')
  return {
    rsAddr: buf[0],
    netFn: buf[1] >> 2,
    rsLun: buf[1] & 0x03,
    rqAddr: buf[3],
    rqSeq: buf[4] >> 2,
    rqLun: buf[4] & 0x03,
    cmd: buf[5],
    data: buf.subarray(6, buf.length - 1)
  }
}

/** Encodes a response the way a BMC would (for tests and fakes). */
export function encodeLanResponse (res: Omit<LanResponse, 'data' | 'rqAddr' | 'rsAddr' | 'rqLun' | 'rsLun'> & { data?: Uint8Array }): Buffer {
  const data = res.data ?? EMPTY
  const out = Buffer.allocUnsafe(8 + data.length)
  out[0] = REMOTE_CONSOLE_SWID
  out[1] = (res.netFn & 0x3f) << 2
  out[2] = ipmbChecksum(out, 0, 2)
  out[3] = BMC_SLAVE_ADDRESS
  out[4] = (res.rqSeq & 0x3f) << 2
  out[5] = res.cmd
  out[6] = res.completionCode
  out.set(data, 7)
  out[7 + data.length] = ipmbChecksum(out, 3, 7 + data.length)
  return out
}

const EMPTY = new Uint8Array(0)
