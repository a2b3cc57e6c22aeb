/**
 * SDR repository commands (netFn storage 0x0A, IPMI v2.0 §33): Get SDR
 * Repository Info, Reserve SDR Repository, Get SDR, and the chunked reader
 * that walks the repository: it reads each record in chunks, shrinks the
 * chunk when the BMC says it is too big, and re-reserves the repository when
 * the reservation was cancelled. It never retries a failed exchange (that is
 * the session layer's business).
 */
import { IpmiError, NETFN, type IpmiRequester } from '../types.js'
import { CC, CMD, TOO_BIG_CODES, completionCodeOf, type ChunkState } from './common.js'
import { need, shrink } from './internal.js'

// ---------------------------------------------------------------------------
// Get SDR Repository Info (§33.9): netFn storage, cmd 0x20, no request data

export interface SdrRepositoryInfo {
  sdrVersion: number
  recordCount: number
  freeSpace: number
  /** Most recent addition timestamp (seconds, 0xffffffff = unspecified). */
  addTimestamp: number
  /** Most recent erase (delete or clear) timestamp. */
  eraseTimestamp: number
  operationSupport: number
  reserveSupported: boolean
}

export function packGetSdrRepositoryInfoRequest (): Uint8Array {
  return new Uint8Array(0)
}

export function unpackGetSdrRepositoryInfoResponse (data: Buffer): SdrRepositoryInfo {
  need(data, 14, 'Get SDR Repository Info')
  return {
    sdrVersion: data[0],
    recordCount: data.readUInt16LE(1),
    freeSpace: data.readUInt16LE(3),
    addTimestamp: data.readUInt32LE(5),
    eraseTimestamp: data.readUInt32LE(9),
    operationSupport: data[13],
    reserveSupported: (data[13] & 0x02) !== 0
  }
}

// ---------------------------------------------------------------------------
// Reserve SDR Repository (§33.11): netFn storage, cmd 0x22, no request data

function packReserveSdrRepositoryRequest (): Uint8Array {
  return new Uint8Array(0)
}

export function unpackReserveSdrRepositoryResponse (data: Buffer): number {
  need(data, 2, 'Reserve SDR Repository')
  return data.readUInt16LE(0)
}

// ---------------------------------------------------------------------------
// Get SDR (§33.12): netFn storage, cmd 0x23
// request: reservation id (LS first), record id (LS first), offset, bytes to read (0xff = all)
// response: next record id (LS first, 0xffff = last), record data

const SDR_HEADER_LENGTH = 5
const LAST_RECORD_ID = 0xffff

export function packGetSdrRequest (reservationId: number, recordId: number, offset: number, count: number): Uint8Array {
  return Uint8Array.of(reservationId & 0xff, reservationId >> 8, recordId & 0xff, recordId >> 8, offset, count)
}

interface GetSdrResponse {
  nextRecordId: number
  data: Buffer
}

export function unpackGetSdrResponse (data: Buffer): GetSdrResponse {
  need(data, 2, 'Get SDR')
  return { nextRecordId: data.readUInt16LE(0), data: Buffer.from(data.subarray(2)) }
}

// ---------------------------------------------------------------------------
// Chunked reader

interface SdrReadOptions {
  state: ChunkState
  /** Re-reservations allowed per record before giving up (default 5). */
  maxReservationRetries?: number
}

async function reserve (requester: IpmiRequester): Promise<number> {
  try {
    return unpackReserveSdrRepositoryResponse(await requester.request(NETFN.storage, CMD.reserveSdrRepository, packReserveSdrRepositoryRequest()))
  } catch (err) {
    // A repository without reservations (§33.11 is optional): reservation id 0.
    if (completionCodeOf(err) === CC.invalidCommand) return 0
    throw err
  }
}

async function getSdrChunk (requester: IpmiRequester, reservationId: number, recordId: number, offset: number, count: number): Promise<GetSdrResponse> {
  const res = unpackGetSdrResponse(await requester.request(NETFN.storage, CMD.getSdr, packGetSdrRequest(reservationId, recordId, offset, count)))
  if (res.data.length === 0) throw new IpmiError('protocol', `Get SDR: record 0x${recordId.toString(16)} offset ${offset}: no data`)
  return res
}

interface RawSdr {
  /** The id the record was fetched with (its header carries the same id on a sane BMC). */
  recordId: number
  nextRecordId: number
  /** Header and body, exactly as stored. */
  bytes: Buffer
}

/**
 * Reads one whole SDR (header, then the body in chunks) under a reservation.
 * The reservation id is held in `reservation` and replaced when the BMC says
 * it was cancelled (0xc5): the record is then read again from offset 0.
 */
export async function readSdrRecord (requester: IpmiRequester, recordId: number, reservation: { id: number }, options: SdrReadOptions): Promise<RawSdr> {
  const maxRetries = options.maxReservationRetries ?? 5
  let retries = 0
  for (;;) {
    try {
      const head = await getSdrChunk(requester, reservation.id, recordId, 0, SDR_HEADER_LENGTH)
      if (head.data.length < SDR_HEADER_LENGTH) {
        throw new IpmiError('protocol', `Get SDR: record 0x${recordId.toString(16)}: header of ${head.data.length} byte(s)`)
      }
      const total = SDR_HEADER_LENGTH + head.data[4]
      const parts = [head.data.subarray(0, SDR_HEADER_LENGTH)]
      let offset = SDR_HEADER_LENGTH
      while (offset < total) {
        const count = Math.min(options.state.chunk, total - offset)
        let part: GetSdrResponse
        try {
          part = await getSdrChunk(requester, reservation.id, recordId, offset, count)
        } catch (err) {
          const cc = completionCodeOf(err)
          if (cc !== undefined && TOO_BIG_CODES.includes(cc) && shrink(options.state, count)) continue
          throw err
        }
        const got = part.data.subarray(0, count)
        parts.push(got)
        offset += got.length
      }
      return { recordId, nextRecordId: head.nextRecordId, bytes: Buffer.concat(parts) }
    } catch (err) {
      if (completionCodeOf(err) === CC.reservationCancelled && retries < maxRetries) {
        retries++
        reservation.id = await reserve(requester)
        continue
      }
      throw err
    }
  }
}

/**
 * Walks the whole SDR repository from record 0x0000 until the next record id
 * is 0xffff (§33.12). Refuses to loop: a next id seen before is an error.
 */
export async function readSdrRepository (requester: IpmiRequester, options: SdrReadOptions, maxRecords = 4096): Promise<RawSdr[]> {
  const reservation = { id: await reserve(requester) }
  const records: RawSdr[] = []
  const seen = new Set<number>()
  let recordId = 0x0000
  while (recordId !== LAST_RECORD_ID) {
    if (seen.has(recordId) || records.length >= maxRecords) {
      throw new IpmiError('protocol', `Get SDR: the repository loops (record 0x${recordId.toString(16)} again)`)
    }
    seen.add(recordId)
    const record = await readSdrRecord(requester, recordId, reservation, options)
    records.push(record)
    recordId = record.nextRecordId
  }
  return records
}
