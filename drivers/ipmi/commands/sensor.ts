/**
 * Sensor/event commands (netFn 0x04, IPMI v2.0 §35): Get Sensor Reading,
 * Get Sensor Thresholds.
 * Converting the raw reading with its SDR is ../sdr.ts.
 */
import { need } from './internal.js'

// ---------------------------------------------------------------------------
// Get Sensor Reading (§35.14): netFn sensor/event, cmd 0x2d, one byte: sensor number
// response: reading, byte 2 (bit 7 event messages enabled, bit 6 scanning
// enabled, bit 5 reading unavailable), byte 3 threshold / discrete state, [byte 4]

interface SensorReadingResponse {
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
// Get Sensor Thresholds (§35.9): netFn sensor/event, cmd 0x27, one byte: sensor number
// response: byte 2 readable threshold mask (bits 0-5: lnc, lcr, lnr, unc, ucr, unr),
// bytes 3-8 the raw thresholds in that order (lnc, lcr, lnr, unc, ucr, unr)

export interface SensorThresholdsResponse {
  /** Bits 0-5: lower non-critical, lower critical, lower non-recoverable, upper non-critical, upper critical, upper non-recoverable. */
  readable: number
  /** Raw values, lnc .. unr; an unreadable one's byte means nothing. */
  raw: [number, number, number, number, number, number]
}

export function packGetSensorThresholdsRequest (sensorNumber: number): Uint8Array {
  return Uint8Array.of(sensorNumber)
}

export function unpackGetSensorThresholdsResponse (data: Buffer): SensorThresholdsResponse {
  need(data, 7, 'Get Sensor Thresholds')
  return { readable: data[0] & 0x3f, raw: [data[1], data[2], data[3], data[4], data[5], data[6]] }
}
