/**
 * FRU inventory commands (netFn storage 0x0A, IPMI v2.0 §34): Get FRU
 * Inventory Area Info, Read FRU Data, and the chunked reader of a FRU
 * device's bytes. Parsing what they hold is ../fru.ts.
 */
import { IpmiError, NETFN, type IpmiRequester } from '../types.js'
import { CMD, TOO_BIG_CODES, completionCodeOf, type ChunkState } from './common.js'
import { need, shrink } from './internal.js'

// ---------------------------------------------------------------------------
// Get FRU Inventory Area Info (§34.1): netFn storage, cmd 0x10, one byte: FRU device id

interface FruAreaInfo {
  size: number
  /** Byte 3 bit 0: the device is accessed by words (offsets and counts in words). */
  byWords: boolean
}

export function packGetFruInventoryAreaInfoRequest (fruId: number): Uint8Array {
  return Uint8Array.of(fruId)
}

export function unpackGetFruInventoryAreaInfoResponse (data: Buffer): FruAreaInfo {
  need(data, 3, 'Get FRU Inventory Area Info')
  return { size: data.readUInt16LE(0), byWords: (data[2] & 0x01) !== 0 }
}

// ---------------------------------------------------------------------------
// Read FRU Data (§34.2): netFn storage, cmd 0x11
// request: FRU device id, offset (LS first), count; response: count returned, data

export function packReadFruDataRequest (fruId: number, offset: number, count: number): Uint8Array {
  return Uint8Array.of(fruId, offset & 0xff, (offset >> 8) & 0xff, count)
}

interface ReadFruDataResponse {
  count: number
  data: Buffer
}

/** `unit` 2 for a word-addressed device: the count returned is then in words (§34.2). */
export function unpackReadFruDataResponse (data: Buffer, unit: 1 | 2 = 1): ReadFruDataResponse {
  need(data, 1, 'Read FRU Data')
  const count = data[0]
  const bytes = count * unit
  if (data.length - 1 < bytes) {
    throw new IpmiError('protocol', `Read FRU Data: says ${bytes} byte(s), carries ${data.length - 1}`)
  }
  return { count, data: Buffer.from(data.subarray(1, 1 + bytes)) }
}

// ---------------------------------------------------------------------------
// Chunked reader

/**
 * Reads `length` bytes of a FRU device from `offset` (bytes), in chunks.
 * Word-addressed devices (§34.1) get word offsets and counts. A short answer
 * is continued from where it stopped; an empty one is an error.
 */
export async function readFruData (requester: IpmiRequester, fruId: number, offset: number, length: number, info: FruAreaInfo, state: ChunkState): Promise<Buffer> {
  const unit = info.byWords ? 2 : 1
  const end = Math.min(offset + length, info.size * unit)
  const parts: Buffer[] = []
  let at = offset
  while (at < end) {
    const bytes = Math.min(state.chunk, end - at)
    const count = Math.ceil(bytes / unit)
    let res: ReadFruDataResponse
    try {
      res = unpackReadFruDataResponse(await requester.request(NETFN.storage, CMD.readFruData, packReadFruDataRequest(fruId, Math.floor(at / unit), count)), unit)
    } catch (err) {
      const cc = completionCodeOf(err)
      if (cc !== undefined && TOO_BIG_CODES.includes(cc) && shrink(state, bytes)) continue
      throw err
    }
    if (res.count === 0) throw new IpmiError('protocol', `Read FRU Data: device ${fruId} offset ${at}: no data`)
    const got = res.data.subarray(0, Math.min(res.count * unit, end - at, res.data.length))
    parts.push(got)
    at += got.length
  }
  return Buffer.concat(parts)
}
