/**
 * One entry of a board's event log as the API lists it (GET /events/:board_id):
 * v1.2-style snake_case fields, hex ids like the rest of the API. The IPMI
 * bridge fills it from the BMC's System Event Log (drivers/ipmi/sel.ts).
 */
export type EventSeverity = 'ok' | 'info' | 'warning' | 'critical' | 'non-recoverable'

export interface BoardEvent {
  /** The log's record id, 4 hex digits. */
  record_id: string
  /** ISO 8601 (UTC) from the BMC's clock; null when the BMC had no time set (pre-init) or the record has none. */
  time: string | null
  /** The sensor's name (its SDR id string), or "<type> #0x<number>" when the SDR has none for it. */
  sensor?: string
  /** The sensor as a device of this board (4 hex digits), when scan lists it as one. */
  device_id?: string
  /** The sensor type (IPMI v2.0 table 42-3), e.g. "Temperature", "Power Supply". */
  sensor_type?: string
  /** What happened, e.g. "Upper Critical going high", "Power Supply AC lost". */
  event: string
  /** asserted: the condition began; deasserted: it ended. */
  direction?: 'asserted' | 'deasserted'
  severity: EventSeverity
  /** Threshold events: the reading and the threshold crossed, converted like /read. */
  reading?: number
  threshold?: number
}
