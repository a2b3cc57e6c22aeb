/**
 * System Event Log commands (netFn storage 0x0A, IPMI v2.0 §31): Get SEL
 * Info (§31.2), Reserve SEL (§31.4) and Get SEL Entry (§31.5) as Pack/Unpack
 * pairs, and the reader that walks the log. Decoding the records it returns
 * is ../sel.ts.
 */
import { SEL_RECORD_LENGTH } from '../sel.js'
import { IpmiError, NETFN, type IpmiRequester } from '../types.js'
import { CC, completionCodeOf } from './common.js'

export const SEL_CMD = { getSelInfo: 0x40, reserveSel: 0x42, getSelEntry: 0x43 } as const
const FIRST_SEL_RECORD = 0x0000
const LAST_SEL_RECORD = 0xffff

// ---------------------------------------------------------------------------
// Get SEL Info (§31.2): storage netFn, cmd 0x40, no request data

interface SelInfo {
  /** 0x51 for IPMI v1.5/v2.0 (BCD, LS digit first). */
  version: number
  entries: number
  freeBytes: number
  /** Most recent addition and erase timestamps (0xffffffff: unspecified). */
  addTimestamp: number
  eraseTimestamp: number
  overflow: boolean
  deleteSupported: boolean
  reserveSupported: boolean
}

export function unpackGetSelInfoResponse (data: Buffer): SelInfo {
  if (data.length < 14) throw new IpmiError('protocol', `Get SEL Info: response of ${data.length} byte(s), 14 expected`)
  const ops = data[13]
  return {
    version: data[0],
    entries: data.readUInt16LE(1),
    freeBytes: data.readUInt16LE(3),
    addTimestamp: data.readUInt32LE(5),
    eraseTimestamp: data.readUInt32LE(9),
    overflow: (ops & 0x80) !== 0,
    deleteSupported: (ops & 0x08) !== 0,
    reserveSupported: (ops & 0x02) !== 0
  }
}

// ---------------------------------------------------------------------------
// Reserve SEL (§31.4): storage netFn, cmd 0x42 -> reservation id (LS first)

function unpackReserveSelResponse (data: Buffer): number {
  if (data.length < 2) throw new IpmiError('protocol', `Reserve SEL: response of ${data.length} byte(s), 2 expected`)
  return data.readUInt16LE(0)
}

// ---------------------------------------------------------------------------
// Get SEL Entry (§31.5): reservation id, record id (LS first), offset, bytes to read (0xff: all)
// -> next record id (LS first), record data

export function packGetSelEntryRequest (reservationId: number, recordId: number, offset = 0, count = 0xff): Uint8Array {
  return Uint8Array.of(reservationId & 0xff, reservationId >> 8, recordId & 0xff, recordId >> 8, offset, count)
}

function unpackGetSelEntryResponse (data: Buffer): { nextRecordId: number, record: Buffer } {
  if (data.length < 2 + SEL_RECORD_LENGTH) throw new IpmiError('protocol', `Get SEL Entry: response of ${data.length} byte(s), 18 expected`)
  return { nextRecordId: data.readUInt16LE(0), record: Buffer.from(data.subarray(2, 2 + SEL_RECORD_LENGTH)) }
}

export async function getSelInfo (requester: IpmiRequester): Promise<SelInfo> {
  return unpackGetSelInfoResponse(await requester.request(NETFN.storage, SEL_CMD.getSelInfo))
}

/** What identifies one state of the log: an entry added, deleted or the log cleared changes it. */
export function selVersion (info: SelInfo): string {
  return `${info.entries}/${info.addTimestamp}/${info.eraseTimestamp}`
}

/**
 * Walks the SEL from the first record until the next record id is 0xffff
 * (`known`: Get SEL Info's answer when the caller already asked).
 * Reserves the SEL when the BMC supports it (a reservation cancelled by a
 * new entry, 0xc5, restarts the walk under a fresh one, a few times at
 * most); refuses to loop on a next id seen before.
 */
export async function readSel (requester: IpmiRequester, maxRecords = 4096, known?: SelInfo): Promise<Buffer[]> {
  const info = known ?? await getSelInfo(requester)
  if (info.entries === 0) return []
  for (let attempt = 0; ; attempt++) {
    const reservation = info.reserveSupported ? unpackReserveSelResponse(await requester.request(NETFN.storage, SEL_CMD.reserveSel)) : 0
    try {
      const records: Buffer[] = []
      const seen = new Set<number>()
      for (let id = FIRST_SEL_RECORD; id !== LAST_SEL_RECORD;) {
        if (seen.has(id) || records.length >= maxRecords) throw new IpmiError('protocol', `Get SEL Entry: the log loops (record 0x${id.toString(16)} again)`)
        seen.add(id)
        const entry = unpackGetSelEntryResponse(await requester.request(NETFN.storage, SEL_CMD.getSelEntry, packGetSelEntryRequest(reservation, id)))
        records.push(entry.record)
        id = entry.nextRecordId
      }
      return records
    } catch (err) {
      if (completionCodeOf(err) === CC.reservationCancelled && attempt < 3) continue
      // an empty log answers "not present" for record 0 on some BMCs
      if (completionCodeOf(err) === CC.notPresent && attempt === 0) return []
      throw err
    }
  }
}
