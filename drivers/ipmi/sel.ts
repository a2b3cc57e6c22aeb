/**
 * The System Event Log's records (IPMI v2.0 §32): the decoding of a 16-byte
 * SEL record (§32.1 system event records, §32.2/§32.3 OEM records) into what
 * happened: when, which sensor, its type (table 42-3), the event (tables 42-2
 * and 42-3), asserted or deasserted, and a severity. Pure; the commands that
 * read the log are in commands/storage-sel.ts.
 */
import { IpmiError } from './types.js'

export const SEL_RECORD_LENGTH = 16

/**
 * A log's records kept between reads: one Buffer of 16 bytes a record (a
 * record is its offset), allocated apart from Node's shared pool. A Buffer
 * per record cost ~150 bytes of heap each, and each small Buffer kept from
 * the pool kept its whole 8 KB slab alive: measured at 1,000 BMCs, four
 * records a BMC pinned 8 KB a BMC.
 */
export class PackedSelRecords {
  private readonly bytes: Buffer

  constructor (records: readonly Uint8Array[]) {
    this.bytes = Buffer.allocUnsafeSlow(records.length * SEL_RECORD_LENGTH)
    records.forEach((r, i) => {
      if (r.length !== SEL_RECORD_LENGTH) throw new IpmiError('protocol', `SEL record of ${r.length} byte(s), 16 expected`)
      this.bytes.set(r, i * SEL_RECORD_LENGTH)
    })
  }

  get length (): number {
    return this.bytes.length / SEL_RECORD_LENGTH
  }

  /** Record `i` (a view of the packed bytes: valid while this is kept). */
  at (i: number): Buffer {
    return this.bytes.subarray(i * SEL_RECORD_LENGTH, (i + 1) * SEL_RECORD_LENGTH)
  }

  /** Every record, oldest first (views, made now). */
  toArray (): Buffer[] {
    return Array.from({ length: this.length }, (_, i) => this.at(i))
  }
}

// ---------------------------------------------------------------------------
// §32 record decoding

export type SelSeverity = 'ok' | 'info' | 'warning' | 'critical' | 'non-recoverable'

export interface SelEvent {
  recordId: number
  /** 0x02 system event; 0xC0-0xDF OEM timestamped; 0xE0-0xFF OEM non-timestamped. */
  recordType: number
  /** Seconds since 1970 (BMC clock); undefined when unspecified, before the clock was set, or for non-timestamped OEM records. */
  time?: Date
  /** System event records only from here on. */
  generatorId?: number
  sensorType?: number
  sensorTypeName?: string
  sensorNumber?: number
  eventType?: number
  asserted?: boolean
  /** What happened, as ipmitool words it. */
  event: string
  severity: SelSeverity
  /** Threshold events: the reading and the threshold that triggered it (raw bytes, when the BMC sent them). */
  triggerReadingRaw?: number
  triggerThresholdRaw?: number
}

/** Table 42-3 sensor type codes, named as ipmitool names them. */
const SENSOR_TYPE_NAMES: Readonly<Record<number, string>> = {
  0x01: 'Temperature',
  0x02: 'Voltage',
  0x03: 'Current',
  0x04: 'Fan',
  0x05: 'Physical Security',
  0x06: 'Platform Security',
  0x07: 'Processor',
  0x08: 'Power Supply',
  0x09: 'Power Unit',
  0x0a: 'Cooling Device',
  0x0b: 'Other',
  0x0c: 'Memory',
  0x0d: 'Drive Slot / Bay',
  0x0e: 'POST Memory Resize',
  0x0f: 'System Firmwares',
  0x10: 'Event Logging Disabled',
  0x11: 'Watchdog1',
  0x12: 'System Event',
  0x13: 'Critical Interrupt',
  0x14: 'Button',
  0x15: 'Module / Board',
  0x16: 'Microcontroller',
  0x17: 'Add-in Card',
  0x18: 'Chassis',
  0x19: 'Chip Set',
  0x1a: 'Other FRU',
  0x1b: 'Cable / Interconnect',
  0x1c: 'Terminator',
  0x1d: 'System Boot Initiated',
  0x1e: 'Boot Error',
  0x1f: 'OS Boot',
  0x20: 'OS Critical Stop',
  0x21: 'Slot / Connector',
  0x22: 'System ACPI Power State',
  0x23: 'Watchdog2',
  0x24: 'Platform Alert',
  0x25: 'Entity Presence',
  0x26: 'Monitor ASIC',
  0x27: 'LAN',
  0x28: 'Management Subsys Health',
  0x29: 'Battery',
  0x2a: 'Session Audit',
  0x2b: 'Version Change',
  0x2c: 'FRU State'
}

export function sensorTypeName (code: number): string {
  return SENSOR_TYPE_NAMES[code] ?? (code >= 0xc0 ? `OEM 0x${hex2(code)}` : `Unknown 0x${hex2(code)}`)
}

/** Table 42-2, threshold event/reading type 0x01: offsets 0-11. */
const THRESHOLD_EVENTS = [
  'Lower Non-critical going low', 'Lower Non-critical going high', 'Lower Critical going low', 'Lower Critical going high',
  'Lower Non-recoverable going low', 'Lower Non-recoverable going high', 'Upper Non-critical going low', 'Upper Non-critical going high',
  'Upper Critical going low', 'Upper Critical going high', 'Upper Non-recoverable going low', 'Upper Non-recoverable going high'
]
const THRESHOLD_SEVERITY: SelSeverity[] = [
  'warning', 'warning', 'critical', 'critical', 'non-recoverable', 'non-recoverable',
  'warning', 'warning', 'critical', 'critical', 'non-recoverable', 'non-recoverable'
]

/** Table 42-2, generic discrete event/reading types 0x02-0x0C. */
const GENERIC_EVENTS: Readonly<Record<number, string[]>> = {
  0x02: ['Transition to Idle', 'Transition to Active', 'Transition to Busy'],
  0x03: ['State Deasserted', 'State Asserted'],
  0x04: ['Predictive Failure Deasserted', 'Predictive Failure Asserted'],
  0x05: ['Limit Not Exceeded', 'Limit Exceeded'],
  0x06: ['Performance Met', 'Performance Lags'],
  0x07: ['Transition to OK', 'Transition to Non-critical from OK', 'Transition to Critical from less severe',
    'Transition to Non-recoverable from less severe', 'Transition to Non-critical from more severe',
    'Transition to Critical from Non-recoverable', 'Transition to Non-recoverable', 'Monitor', 'Informational'],
  0x08: ['Device Absent', 'Device Present'],
  0x09: ['Device Disabled', 'Device Enabled'],
  0x0a: ['Transition to Running', 'Transition to In Test', 'Transition to Power Off', 'Transition to On Line',
    'Transition to Off Line', 'Transition to Off Duty', 'Transition to Degraded', 'Transition to Power Save', 'Install Error'],
  0x0b: ['Fully Redundant', 'Redundancy Lost', 'Redundancy Degraded', 'Non-redundant: Sufficient from Redundant',
    'Non-redundant: Sufficient from Insufficient', 'Non-redundant: Insufficient Resources',
    'Redundancy Degraded from Fully Redundant', 'Redundancy Degraded from Non-redundant'],
  0x0c: ['D0 Power State', 'D1 Power State', 'D2 Power State', 'D3 Power State']
}
const SEVERITY_07: SelSeverity[] = ['ok', 'warning', 'critical', 'non-recoverable', 'warning', 'critical', 'non-recoverable', 'info', 'info']

/** Table 42-3, sensor-specific offsets (event/reading type 0x6F) of the sensor types met most. */
const SPECIFIC_EVENTS: Readonly<Record<number, string[]>> = {
  0x05: ['General Chassis intrusion', 'Drive Bay intrusion', 'I/O Card area intrusion', 'Processor area intrusion',
    'System unplugged from LAN', 'Unauthorized dock', 'FAN area intrusion'],
  0x07: ['IERR', 'Thermal Trip', 'FRB1/BIST failure', 'FRB2/Hang in POST failure', 'FRB3/Processor Startup/Init failure',
    'Configuration Error', 'SM BIOS Uncorrectable CPU-complex Error', 'Presence detected', 'Disabled',
    'Terminator presence detected', 'Throttled', 'Uncorrectable machine check exception', 'Correctable machine check error'],
  0x08: ['Presence detected', 'Failure detected', 'Predictive failure', 'Power Supply AC lost', 'AC lost or out-of-range',
    'AC out-of-range, but present', 'Config Error'],
  0x09: ['Power off/down', 'Power cycle', '240VA power down', 'Interlock power down', 'AC lost', 'Soft-power control failure',
    'Failure detected', 'Predictive failure'],
  0x0c: ['Correctable ECC', 'Uncorrectable ECC', 'Parity', 'Memory Scrub Error', 'Memory Device Disabled',
    'Correctable ECC logging limit reached', 'Presence Detected', 'Configuration Error', 'Spare', 'Throttled',
    'Critical Overtemperature'],
  0x10: ['Correctable memory error logging disabled', 'Event logging disabled', 'Log area reset/cleared',
    'All event logging disabled', 'Log full', 'Log almost full'],
  0x12: ['System Reconfigured', 'OEM System boot event', 'Undetermined system hardware failure',
    'Entry added to auxiliary log', 'PEF Action', 'Timestamp Clock Sync'],
  0x14: ['Power Button pressed', 'Sleep Button pressed', 'Reset Button pressed', 'FRU latch open', 'FRU service request button'],
  0x1d: ['Initiated by power up', 'Initiated by hard reset', 'Initiated by warm reset', 'User requested PXE boot',
    'Automatic boot to diagnostic'],
  0x23: ['Timer expired', 'Hard reset', 'Power down', 'Power cycle', 'reserved', 'reserved', 'reserved', 'reserved', 'Timer interrupt'],
  0x25: ['Entity Present', 'Entity Absent', 'Entity Disabled'],
  0x29: ['Low (Predictive failure)', 'Failed', 'Presence detected'],
  0x2a: ['Session Activated', 'Session Deactivated', 'Invalid Username or Password', 'Invalid password disable']
}

/** Sensor-specific offsets that report a fault: [sensor type, offset, severity]. Others are 'info'. */
const SPECIFIC_SEVERITY: ReadonlyArray<[number, number, SelSeverity]> = [
  [0x05, -1, 'warning'],
  [0x07, 0, 'critical'], [0x07, 1, 'critical'], [0x07, 2, 'critical'], [0x07, 3, 'critical'], [0x07, 4, 'critical'],
  [0x07, 5, 'warning'], [0x07, 6, 'critical'], [0x07, 10, 'warning'], [0x07, 11, 'critical'], [0x07, 12, 'warning'],
  [0x08, 1, 'critical'], [0x08, 2, 'warning'], [0x08, 3, 'critical'], [0x08, 4, 'critical'], [0x08, 5, 'warning'], [0x08, 6, 'warning'],
  [0x09, 4, 'critical'], [0x09, 5, 'critical'], [0x09, 6, 'critical'], [0x09, 7, 'warning'],
  [0x0c, 0, 'warning'], [0x0c, 1, 'critical'], [0x0c, 2, 'critical'], [0x0c, 3, 'warning'], [0x0c, 4, 'warning'],
  [0x0c, 5, 'warning'], [0x0c, 7, 'warning'], [0x0c, 10, 'critical'],
  [0x10, 4, 'warning'], [0x10, 5, 'warning'],
  [0x12, 2, 'critical'],
  [0x23, 0, 'warning'], [0x23, 1, 'warning'], [0x23, 2, 'warning'], [0x23, 3, 'warning'],
  [0x29, 0, 'warning'], [0x29, 1, 'critical'],
  [0x2a, 2, 'warning'], [0x2a, 3, 'warning']
]

/** §32.1: timestamps at or below 0x20000000 count seconds since the BMC started, not since 1970 (ipmitool's "Pre-Init"). */
const PRE_INIT_LIMIT = 0x20000000

function timestampOf (seconds: number): Date | undefined {
  if (seconds === 0xffffffff || seconds <= PRE_INIT_LIMIT) return undefined
  return new Date(seconds * 1000)
}

/** Decodes one 16-byte SEL record (§32). */
export function decodeSelRecord (r: Uint8Array): SelEvent {
  if (r.length < SEL_RECORD_LENGTH) throw new IpmiError('protocol', `SEL record of ${r.length} byte(s), 16 expected`)
  const b = Buffer.from(r.buffer, r.byteOffset, r.length)
  const recordId = b.readUInt16LE(0)
  const recordType = b[2]
  if (recordType !== 0x02) {
    const timestamped = recordType >= 0xc0 && recordType <= 0xdf
    return {
      recordId,
      recordType,
      time: timestamped ? timestampOf(b.readUInt32LE(3)) : undefined,
      event: `OEM record 0x${hex2(recordType)}`,
      severity: 'info'
    }
  }
  const sensorType = b[10]
  const sensorNumber = b[11]
  const asserted = (b[12] & 0x80) === 0
  const eventType = b[12] & 0x7f
  const data1 = b[13]
  const offset = data1 & 0x0f
  const event: SelEvent = {
    recordId,
    recordType,
    time: timestampOf(b.readUInt32LE(3)),
    generatorId: b.readUInt16LE(7),
    sensorType,
    sensorTypeName: sensorTypeName(sensorType),
    sensorNumber,
    eventType,
    asserted,
    event: '',
    severity: 'info'
  }
  let severity: SelSeverity = 'info'
  if (eventType === 0x01) {
    event.event = THRESHOLD_EVENTS[offset] ?? `Threshold offset ${offset}`
    severity = THRESHOLD_SEVERITY[offset] ?? 'info'
    // event data 1 bits 7:6 = 01: byte 2 is the trigger reading; bits 5:4 = 01: byte 3 the threshold (§29.7)
    if ((data1 >> 6) === 0x01) event.triggerReadingRaw = b[14]
    if (((data1 >> 4) & 0x03) === 0x01) event.triggerThresholdRaw = b[15]
  } else if (eventType >= 0x02 && eventType <= 0x0c) {
    event.event = GENERIC_EVENTS[eventType]?.[offset] ?? `Generic type 0x${hex2(eventType)} offset ${offset}`
    if (eventType === 0x07) severity = SEVERITY_07[offset] ?? 'info'
    else if (eventType === 0x04 && offset === 1) severity = 'warning'
    else if (eventType === 0x05 && offset === 1) severity = 'warning'
    else if (eventType === 0x06 && offset === 1) severity = 'warning'
    else if (eventType === 0x0b && offset !== 0) severity = offset === 1 || offset === 5 ? 'critical' : 'warning'
  } else if (eventType === 0x6f) {
    event.event = SPECIFIC_EVENTS[sensorType]?.[offset] ?? `${event.sensorTypeName} offset ${offset}`
    severity = SPECIFIC_SEVERITY.find(([type, o]) => type === sensorType && (o === offset || o === -1))?.[2] ?? 'info'
  } else {
    event.event = eventType >= 0x70 ? `OEM event type 0x${hex2(eventType)} offset ${offset}` : `Event type 0x${hex2(eventType)} offset ${offset}`
  }
  // a fault that is no longer there (threshold crossed back, failure gone) is good news
  event.severity = !asserted && severity !== 'info' ? 'ok' : severity
  return event
}

function hex2 (n: number): string {
  return n.toString(16).padStart(2, '0')
}
