/**
 * What the IPMI bridge asks of one BMC, over that BMC's IpmiRequester: power,
 * identify, boot device, sensors (SDR repository cached per instance), FRU
 * inventory, DCMI power reading and the System Event Log. One instance per BMC; every piece of learnt state (the SDR cache,
 * chunk sizes, whether set-in-progress works) is a field of the instance.
 */
import {
  BOOT_PARAM,
  CC,
  CHASSIS_CONTROL,
  CMD,
  completionCodeOf,
  DCMI_CMD,
  encodeBootFlags,
  getSelInfo,
  packChassisControlRequest,
  packChassisIdentifyRequest,
  packGetChassisStatusRequest,
  packGetDeviceIdRequest,
  packGetPowerReadingRequest,
  packGetFruInventoryAreaInfoRequest,
  packGetSdrRepositoryInfoRequest,
  packGetSensorReadingRequest,
  packGetSensorThresholdsRequest,
  packGetSystemBootOptionsRequest,
  packSetSystemBootOptionsRequest,
  readFruData,
  readSdrRepository,
  readSel,
  selVersion,
  SET_IN_PROGRESS,
  unpackBootFlagsResponse,
  unpackGetChassisStatusResponse,
  unpackGetDeviceIdResponse,
  unpackGetFruInventoryAreaInfoResponse,
  unpackGetPowerReadingResponse,
  unpackGetSdrRepositoryInfoResponse,
  unpackGetSensorReadingResponse,
  unpackGetSensorThresholdsResponse,
  type BootFlags,
  type ChassisStatus,
  type ChunkState,
  type DeviceId,
  type IdentifyState,
  type PowerReading,
  type SdrRepositoryInfo
} from './commands/index.js'
import { FRU_HEADER_LENGTH, FruFormatError, parseCommonHeader, parseFru, toAssetInfo, type AssetFru, type FruInventory } from './fru.js'
import { convertReading, convertThresholds, parseSdr, thresholdsReadable, type SensorRecord } from './sdr.js'
import { PackedSelRecords } from './sel.js'
import { IpmiError, NETFN, type IpmiRequester } from './types.js'

type BootTargetName = 'no_override' | 'pxe' | 'hdd'

const BOOT_SELECTORS: Record<BootTargetName, number> = { no_override: 0x0, pxe: 0x1, hdd: 0x2 }

interface BmcCommandsOptions {
  /** Bytes per Get SDR request (default 32; ipmi_sim answers at most 33). */
  sdrChunk?: number
  /** Bytes per Read FRU Data request (default 32; ipmi_sim answers at most 34). */
  fruChunk?: number
  /** FRU device to read (default 0, the BMC's built-in FRU). */
  fruDeviceId?: number
  /**
   * 'honour' (default, as pyghmi and so OpenDCRE v1.2): boot flags whose valid
   * bit is clear read as no_override. 'ignore': report the device selector
   * whatever the valid bit says (ipmi_sim never sets it).
   */
  bootValidBit?: 'honour' | 'ignore'
  /** Boot override for every future boot (default false: next boot only, as ipmitool). */
  bootPersistent?: boolean
  /**
   * Chassis Identify "on" sends force-on (byte 2 bit 0, indefinitely). A BMC
   * that refuses the 2-byte request (0xc7/0xcc, IPMI 1.5) gets this interval
   * instead, from then on (default 255 s, the longest).
   */
  identifyOnIntervalSeconds?: number
  /**
   * The BMC's IPMB slave address (default 0x20). Sensors owned by another
   * controller, or on a LUN other than 0, would need bridged requests, which
   * the requester cannot send: readSensor refuses them rather than read the
   * wrong sensor.
   */
  bmcAddress?: number
  /**
   * How long the SDR cache is trusted without asking Get SDR Repository Info
   * again (ms; default 0: ask before every use). The bridge sets a few
   * seconds, so a sensor read costs one request, not two or three.
   */
  sdrRecheckMs?: number
  /** The clock for sdrRecheckMs (ms); default performance.now. */
  now?: () => number
}

interface ChassisSummary {
  power: 'on' | 'off'
  /** No power fault, no power control fault, no overload. */
  powerOk: boolean
  /** 'unknown' when the BMC does not report the identify state (ipmi_sim never does). */
  identify: 'on' | 'off' | 'unknown'
  identifyState: IdentifyState
  status: ChassisStatus
}

interface SensorReading {
  sensorNumber: number
  name: string
  unit: string
  raw: number
  /** Converted with the sensor's SDR; null when the reading is unavailable or scanning is disabled. */
  value: number | null
  available: boolean
  scanningEnabled: boolean
  state: number
}

interface SdrCache {
  key: string
  records: SensorRecord[]
  /** When the key was last confirmed by Get SDR Repository Info. */
  checkedAt: number
}

function findSensor (records: SensorRecord[], sensorNumber: number): SensorRecord | undefined {
  for (const r of records) if (r.sensorNumber === sensorNumber) return r
  return undefined
}

function cacheKey (info: SdrRepositoryInfo): string {
  return `${info.recordCount}/${info.addTimestamp}/${info.eraseTimestamp}`
}

export class BmcCommands {
  private readonly sdrState: ChunkState
  private readonly fruState: ChunkState
  private readonly fruDeviceId: number
  private readonly bootValidBit: 'honour' | 'ignore'
  private readonly bootPersistent: boolean
  private readonly identifyFallbackInterval: number
  private readonly bmcAddress: number
  private readonly sdrRecheckMs: number
  private readonly now: () => number
  private sdrCache: SdrCache | undefined
  private sdrLoading: Promise<SensorRecord[]> | undefined
  /** ipmitool's rule: once setting set-in-progress fails, stop using it. */
  private useSetInProgress = true
  /** Cleared when the BMC refuses the 2-byte (force) Chassis Identify. */
  private identifyForceSupported = true
  /** DCMI Get Power Reading: 'no' once the BMC answered it with a completion code before ever answering it. */
  private dcmi: 'unknown' | 'yes' | 'no' = 'unknown'
  private selCache: { version: string, records: PackedSelRecords } | undefined

  constructor (private readonly requester: IpmiRequester, options: BmcCommandsOptions = {}) {
    this.sdrState = { chunk: options.sdrChunk ?? 32 }
    this.fruState = { chunk: options.fruChunk ?? 32 }
    this.fruDeviceId = options.fruDeviceId ?? 0
    this.bootValidBit = options.bootValidBit ?? 'honour'
    this.bootPersistent = options.bootPersistent ?? false
    this.identifyFallbackInterval = options.identifyOnIntervalSeconds ?? 255
    this.bmcAddress = options.bmcAddress ?? 0x20
    this.sdrRecheckMs = options.sdrRecheckMs ?? 0
    this.now = options.now ?? (() => performance.now())
  }

  /** Whether Chassis Identify "on" still uses force-on (false after the BMC refused it). */
  get identifyUsesForce (): boolean {
    return this.identifyForceSupported
  }

  async deviceId (): Promise<DeviceId> {
    return unpackGetDeviceIdResponse(await this.requester.request(NETFN.app, CMD.getDeviceId, packGetDeviceIdRequest()))
  }

  async chassisStatus (): Promise<ChassisSummary> {
    const status = unpackGetChassisStatusResponse(await this.requester.request(NETFN.chassis, CMD.getChassisStatus, packGetChassisStatusRequest()))
    const s = status.identifyState
    return {
      power: status.powerOn ? 'on' : 'off',
      powerOk: !status.powerFault && !status.powerControlFault && !status.powerOverload,
      identify: s === 'off' ? 'off' : s === 'temporary' || s === 'indefinite' ? 'on' : 'unknown',
      identifyState: s,
      status
    }
  }

  /** Chassis Control (§28.3): power down, power up or power cycle. Sent once, never re-sent here. */
  async chassisControl (action: 'on' | 'off' | 'cycle'): Promise<void> {
    const code = action === 'on' ? CHASSIS_CONTROL.powerUp : action === 'off' ? CHASSIS_CONTROL.powerDown : CHASSIS_CONTROL.powerCycle
    await this.requester.request(NETFN.chassis, CMD.chassisControl, packChassisControlRequest(code))
  }

  /**
   * Chassis Identify (§28.5): off = interval 0; on = force on indefinitely
   * (byte 2 bit 0), or the longest interval on a BMC that refuses byte 2.
   */
  async identify (state: 'on' | 'off'): Promise<void> {
    if (state === 'off') {
      await this.requester.request(NETFN.chassis, CMD.chassisIdentify, packChassisIdentifyRequest(0))
      return
    }
    if (this.identifyForceSupported) {
      try {
        await this.requester.request(NETFN.chassis, CMD.chassisIdentify, packChassisIdentifyRequest(0, true))
        return
      } catch (err) {
        const cc = completionCodeOf(err)
        if (cc !== CC.requestDataLengthInvalid && cc !== CC.invalidDataField) throw err
        this.identifyForceSupported = false
      }
    }
    await this.requester.request(NETFN.chassis, CMD.chassisIdentify, packChassisIdentifyRequest(this.identifyFallbackInterval))
  }

  async bootFlags (): Promise<BootFlags & { parameterInvalid: boolean }> {
    return unpackBootFlagsResponse(await this.requester.request(NETFN.chassis, CMD.getSystemBootOptions, packGetSystemBootOptionsRequest(BOOT_PARAM.bootFlags)))
  }

  /** Parameter 5's device selector as a v1.2 boot target; other devices (cdrom, bios ...) are an error. */
  async bootTarget (): Promise<BootTargetName> {
    const flags = await this.bootFlags()
    if (this.bootValidBit === 'honour' && (!flags.valid || flags.parameterInvalid)) return 'no_override'
    switch (flags.deviceSelector) {
      case 0x0: return 'no_override'
      case 0x1: return 'pxe'
      case 0x2: return 'hdd'
      default: throw new IpmiError('protocol', `boot device override is ${flags.device}, which is none of no_override, pxe, hdd`)
    }
  }

  /**
   * Set System Boot Options parameter 5 the way ipmitool's `chassis bootdev`
   * does: set-in-progress (remembered as unsupported once it fails), clear the
   * BIOS POST boot-info acknowledge (parameter 4), write the flags with the
   * valid bit, commit-write, then set-complete.
   */
  async setBootTarget (target: BootTargetName): Promise<void> {
    const selector = BOOT_SELECTORS[target]
    if (selector === undefined) throw new RangeError(`unknown boot target ${String(target)}`)
    await this.setInProgress(SET_IN_PROGRESS.setInProgress)
    try {
      try {
        await this.setBootOption(BOOT_PARAM.bootInfoAcknowledge, Uint8Array.of(0x01, 0x01))
      } catch (err) {
        // Optional parameter: a BMC without it can still take the flags.
        const cc = completionCodeOf(err)
        if (cc !== CC.parameterNotSupported && cc !== CC.invalidDataField) throw err
      }
      await this.setBootOption(BOOT_PARAM.bootFlags, encodeBootFlags(selector, { persistent: this.bootPersistent }))
      await this.setInProgress(SET_IN_PROGRESS.commitWrite)
    } finally {
      await this.setInProgress(SET_IN_PROGRESS.setComplete)
    }
  }

  private async setBootOption (parameter: number, data: Uint8Array): Promise<void> {
    await this.requester.request(NETFN.chassis, CMD.setSystemBootOptions, packSetSystemBootOptionsRequest(parameter, data))
  }

  private async setInProgress (value: number): Promise<void> {
    if (!this.useSetInProgress) return
    try {
      await this.setBootOption(BOOT_PARAM.setInProgress, Uint8Array.of(value))
    } catch (err) {
      if (!(err instanceof IpmiError) || err.kind !== 'protocol') throw err
      // Only a failed "set in progress" disables it; commit/complete may fail legitimately.
      if (value === SET_IN_PROGRESS.setInProgress) this.useSetInProgress = false
    }
  }

  async sdrRepositoryInfo (): Promise<SdrRepositoryInfo> {
    return unpackGetSdrRepositoryInfoResponse(await this.requester.request(NETFN.storage, CMD.getSdrRepositoryInfo, packGetSdrRepositoryInfoRequest()))
  }

  /**
   * The sensor records (full and compact) of the SDR repository. Read once and
   * kept; re-read only when Get SDR Repository Info's record count, addition
   * or erase timestamp changed. Concurrent callers share one read.
   */
  async sensors (): Promise<SensorRecord[]> {
    const cached = this.cachedSensors()
    if (cached !== undefined) return cached
    const info = await this.sdrRepositoryInfo()
    const key = cacheKey(info)
    if (this.sdrCache?.key === key) {
      this.sdrCache.checkedAt = this.now()
      return this.sdrCache.records
    }
    if (this.sdrLoading !== undefined) return await this.sdrLoading
    this.sdrLoading = this.loadSensors(key)
    try {
      return await this.sdrLoading
    } finally {
      this.sdrLoading = undefined
    }
  }

  /**
   * The cached sensor records while sdrRecheckMs says they need no Get SDR
   * Repository Info, else undefined: what sensors() answers without a
   * request, for callers that can skip a queue and an await (every poll).
   */
  cachedSensors (): SensorRecord[] | undefined {
    const cached = this.sdrCache
    return cached !== undefined && this.sdrRecheckMs > 0 && this.now() - cached.checkedAt < this.sdrRecheckMs ? cached.records : undefined
  }

  private async loadSensors (key: string): Promise<SensorRecord[]> {
    const raw = await readSdrRepository(this.requester, { state: this.sdrState })
    const records: SensorRecord[] = []
    for (const r of raw) {
      const rec = parseSdr(r.bytes)
      if (rec.kind !== 'other') records.push(rec)
    }
    for (const rec of records) await this.readThresholds(rec)
    this.sdrCache = { key, records, checkedAt: this.now() }
    return records
  }

  /**
   * Get Sensor Thresholds (§35.9), once per SDR read, where the record says
   * they are readable: the BMC's current thresholds (a compact record, §43.2,
   * carries none; a full record's are the initial ones). A BMC that refuses
   * (ipmi_sim answers 0xC1 unless told of thresholds) leaves the SDR's.
   */
  private async readThresholds (record: SensorRecord): Promise<void> {
    if (!thresholdsReadable(record) || record.ownerId !== this.bmcAddress || record.ownerLun !== 0) return
    try {
      const res = unpackGetSensorThresholdsResponse(await this.requester.request(NETFN.sensorEvent, CMD.getSensorThresholds, packGetSensorThresholdsRequest(record.sensorNumber)))
      record.thresholds = convertThresholds(record, res.readable, res.raw)
    } catch (err) {
      // a completion code (unsupported, not present) or a short answer: the SDR's stand
      if (completionCodeOf(err) === undefined && !(err instanceof IpmiError && err.kind === 'protocol')) throw err
    }
  }

  /** Drops the SDR cache (the next sensors() reads the repository again). */
  invalidateSensors (): void {
    this.sdrCache = undefined
  }

  async sensor (sensorNumber: number): Promise<SensorRecord | undefined> {
    return findSensor(await this.sensors(), sensorNumber)
  }

  /** Get Sensor Reading (§35.14) converted with the sensor's SDR (§36.3). */
  async readSensor (sensorNumber: number): Promise<SensorReading> {
    const cached = this.cachedSensors()
    const record = cached !== undefined ? findSensor(cached, sensorNumber) : await this.sensor(sensorNumber)
    const label = (): string => `sensor 0x${sensorNumber.toString(16).padStart(2, '0')}`
    if (record === undefined) throw new IpmiError('protocol', `no SDR for ${label()}`)
    if (record.ownerId !== this.bmcAddress || record.ownerLun !== 0) {
      throw new IpmiError('protocol', `${label()} belongs to controller 0x${record.ownerId.toString(16)} LUN ${record.ownerLun}: bridged requests are not supported`)
    }
    const res = unpackGetSensorReadingResponse(await this.requester.request(NETFN.sensorEvent, CMD.getSensorReading, packGetSensorReadingRequest(sensorNumber)))
    const available = res.scanningEnabled && !res.readingUnavailable
    return {
      sensorNumber,
      name: record.name,
      unit: record.unit,
      raw: res.raw,
      value: available ? convertReading(record, res.raw) : null,
      available,
      scanningEnabled: res.scanningEnabled,
      state: res.state
    }
  }

  /**
   * DCMI Get Power Reading (DCMI v1.5 §6.6.1, system power statistics).
   * Undefined when the BMC has no DCMI or when it says power measurement is
   * not active. The first ask decides: a completion code, or no answer at all
   * (some BMCs drop what they do not know), means no DCMI, and the BMC is not
   * asked again; a BMC that has answered keeps being asked, and a refusal
   * then is no reading this time.
   */
  async powerReading (): Promise<PowerReading | undefined> {
    if (this.dcmi === 'no') return undefined
    try {
      const reading = unpackGetPowerReadingResponse(await this.requester.request(NETFN.groupExtension, DCMI_CMD.getPowerReading, packGetPowerReadingRequest()))
      this.dcmi = 'yes'
      return reading.active ? reading : undefined
    } catch (err) {
      const refused = completionCodeOf(err) !== undefined
      if (this.dcmi === 'unknown' && (refused || (err instanceof IpmiError && err.kind === 'timeout'))) {
        this.dcmi = 'no'
        return undefined
      }
      if (refused) return undefined
      throw err
    }
  }

  /** Whether the BMC answered DCMI Get Power Reading ('unknown' until asked). */
  get dcmiSupport (): 'unknown' | 'yes' | 'no' {
    return this.dcmi
  }

  /**
   * The System Event Log's raw 16-byte records, oldest first (§31). Kept
   * and read again only when Get SEL Info's entry count or add/erase
   * timestamps change, so asking an unchanged log costs one request.
   */
  async selRecords (): Promise<Buffer[]> {
    return (await this.packedSelRecords()).toArray()
  }

  /** The SEL's records packed; the same object while the SEL is unchanged (Get SEL Info alone then). */
  async packedSelRecords (): Promise<PackedSelRecords> {
    const info = await getSelInfo(this.requester)
    const version = selVersion(info)
    if (this.selCache?.version === version) return this.selCache.records
    const records = new PackedSelRecords(await readSel(this.requester, undefined, info))
    this.selCache = { version, records }
    return records
  }

  /**
   * The FRU inventory: area info, the common header, then each area (its two
   * first bytes give its length) read in chunks and parsed.
   */
  async fruInventory (): Promise<FruInventory> {
    const id = this.fruDeviceId
    const info = unpackGetFruInventoryAreaInfoResponse(await this.requester.request(NETFN.storage, CMD.getFruInventoryAreaInfo, packGetFruInventoryAreaInfoRequest(id)))
    const size = info.size * (info.byWords ? 2 : 1)
    if (size < FRU_HEADER_LENGTH) throw new FruFormatError(`FRU device ${id}: ${size} byte(s), too small for a common header`)
    const image = Buffer.alloc(size)
    const header = await readFruData(this.requester, id, 0, FRU_HEADER_LENGTH, info, this.fruState)
    header.copy(image, 0)
    let h
    try {
      h = parseCommonHeader(header)
    } catch (err) {
      return { errors: [{ area: 'header', message: err instanceof Error ? err.message : String(err) }] }
    }
    for (const offset of [h.chassisOffset, h.boardOffset, h.productOffset]) {
      if (offset === 0 || offset + 2 > size) continue
      const head = await readFruData(this.requester, id, offset, 2, info, this.fruState)
      head.copy(image, offset)
      const length = head[1] * 8
      if (length > 2) (await readFruData(this.requester, id, offset + 2, length - 2, info, this.fruState)).copy(image, offset + 2)
    }
    return parseFru(image)
  }

  /** The v1.2 asset areas (board_info, chassis_info, product_info); an error when none could be read. */
  async fru (): Promise<AssetFru> {
    const inv = await this.fruInventory()
    const asset = toAssetInfo(inv)
    if (asset.board_info === undefined && asset.chassis_info === undefined && asset.product_info === undefined) {
      const why = inv.errors.map(e => e.message).join('; ')
      throw new FruFormatError(`FRU device ${this.fruDeviceId}: no readable inventory area${why === '' ? '' : ` (${why})`}`)
    }
    return asset
  }
}
