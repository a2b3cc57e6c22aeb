/**
 * The IPMI commands the bridge sends, one Pack/Unpack pair per command, each
 * citing its section of the IPMI v2.0 specification (rev 1.1). Pack builds the
 * request data (after the command byte); Unpack reads the response data that
 * IpmiRequester.request resolves with (after the completion code) and throws
 * IpmiError('protocol') when the BMC answered with too few bytes.
 *
 * The two chunked readers at the bottom (SDR records and FRU data) are the
 * only code here that talks to an IpmiRequester: they split reads into chunks,
 * shrink the chunk when the BMC says it is too big, and re-reserve the SDR
 * repository when the reservation was cancelled. They never retry a failed
 * exchange (that is the session layer's business).
 */
import { IpmiCompletionError, IpmiError, NETFN, type IpmiRequester } from './types.js'

/** Command codes (IPMI v2.0 appendix G). */
export const CMD = {
  getDeviceId: 0x01, // app
  getChassisStatus: 0x01, // chassis
  chassisControl: 0x02,
  chassisIdentify: 0x04,
  setSystemBootOptions: 0x08,
  getSystemBootOptions: 0x09,
  getSensorReading: 0x2d, // sensor/event
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

function need (data: Uint8Array, min: number, what: string): void {
  if (data.length < min) {
    throw new IpmiError('protocol', `${what}: response of ${data.length} byte(s), at least ${min} expected`)
  }
}

export function completionCodeOf (err: unknown): number | undefined {
  return err instanceof IpmiCompletionError ? err.completionCode : undefined
}

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

/** The response is the completion code alone; any data bytes are ignored. */
export function unpackChassisControlResponse (_data: Buffer): void {}

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

/**
 * The response is the completion code alone. ipmi_sim 2.0.33 answers a
 * successful Chassis Identify with ~35 bytes of uninitialised data after the
 * completion code; they are ignored.
 */
export function unpackChassisIdentifyResponse (_data: Buffer): void {}

// ---------------------------------------------------------------------------
// Set / Get System Boot Options (§28.12, §28.13, table 28-14)

export const BOOT_PARAM = { setInProgress: 0x00, bootFlagValidBitClearing: 0x03, bootInfoAcknowledge: 0x04, bootFlags: 0x05 } as const
export const SET_IN_PROGRESS = { setComplete: 0x00, setInProgress: 0x01, commitWrite: 0x02 } as const

/** Boot device selector, parameter 5 data byte 2 bits 5:2 (table 28-14). */
export const BOOT_DEVICES: Record<number, string> = {
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

export interface BootOptionResponse {
  parameterVersion: number
  parameter: number
  /** Byte 2 bit 7: parameter marked invalid / locked. */
  parameterInvalid: boolean
  data: Buffer
}

export function packGetSystemBootOptionsRequest (parameter: number, setSelector = 0, blockSelector = 0): Uint8Array {
  return Uint8Array.of(parameter & 0x7f, setSelector, blockSelector)
}

export function unpackGetSystemBootOptionsResponse (data: Buffer): BootOptionResponse {
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

/** The response is the completion code alone. */
export function unpackSetSystemBootOptionsResponse (_data: Buffer): void {}

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

export function packReserveSdrRepositoryRequest (): Uint8Array {
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

export const SDR_HEADER_LENGTH = 5
export const LAST_RECORD_ID = 0xffff

export function packGetSdrRequest (reservationId: number, recordId: number, offset: number, count: number): Uint8Array {
  return Uint8Array.of(reservationId & 0xff, reservationId >> 8, recordId & 0xff, recordId >> 8, offset, count)
}

export interface GetSdrResponse {
  nextRecordId: number
  data: Buffer
}

export function unpackGetSdrResponse (data: Buffer): GetSdrResponse {
  need(data, 2, 'Get SDR')
  return { nextRecordId: data.readUInt16LE(0), data: Buffer.from(data.subarray(2)) }
}

// ---------------------------------------------------------------------------
// Get Sensor Reading (§35.14): netFn sensor/event, cmd 0x2d, one byte: sensor number
// response: reading, byte 2 (bit 7 event messages enabled, bit 6 scanning
// enabled, bit 5 reading unavailable), byte 3 threshold / discrete state, [byte 4]

export interface SensorReadingResponse {
  raw: number
  eventMessagesEnabled: boolean
  scanningEnabled: boolean
  readingUnavailable: boolean
  /** Byte 3 (threshold comparison status or discrete states 0-7), 0 when absent. */
  state: number
  /** Byte 4 (discrete states 8-14), when present. */
  state2?: number
}

export function packGetSensorReadingRequest (sensorNumber: number): Uint8Array {
  return Uint8Array.of(sensorNumber)
}

export function unpackGetSensorReadingResponse (data: Buffer): SensorReadingResponse {
  need(data, 2, 'Get Sensor Reading')
  return {
    raw: data[0],
    eventMessagesEnabled: (data[1] & 0x80) !== 0,
    scanningEnabled: (data[1] & 0x40) !== 0,
    readingUnavailable: (data[1] & 0x20) !== 0,
    state: data.length >= 3 ? data[2] : 0,
    ...(data.length >= 4 ? { state2: data[3] } : {})
  }
}

// ---------------------------------------------------------------------------
// Get FRU Inventory Area Info (§34.1): netFn storage, cmd 0x10, one byte: FRU device id

export interface FruAreaInfo {
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

export interface ReadFruDataResponse {
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
// Chunked readers

/** What a reader learns about a BMC; keep one per BMC so it is learnt once. */
export interface ChunkState {
  /** Bytes asked for per request; shrunk when the BMC answers "too big". */
  chunk: number
}

const MIN_CHUNK = 1

function shrink (state: ChunkState, asked: number): boolean {
  if (asked <= MIN_CHUNK) return false
  state.chunk = Math.max(MIN_CHUNK, Math.min(state.chunk, Math.floor(asked / 2)))
  return true
}

export interface SdrReadOptions {
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

export interface RawSdr {
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
