import { Type, type Static } from '@sinclair/typebox'

/**
 * GET /events/:board_id (not in v1.2): a board's event log, oldest first. For
 * an IPMI board this is the BMC's System Event Log, decoded. Properties are
 * listed in alphabetical order; the serializer writes the required ones
 * (event, record_id, severity, time) first.
 */
export const BoardEventSchema = Type.Object({
  device_id: Type.Optional(Type.String({ description: 'the sensor as a device of this board (as scan lists it), when the BMC owns it' })),
  direction: Type.Optional(Type.Union([Type.Literal('asserted'), Type.Literal('deasserted')], { description: 'asserted: the condition began; deasserted: it ended' })),
  event: Type.String({ description: 'what happened, e.g. "Upper Critical going high"' }),
  reading: Type.Optional(Type.Number({ description: 'threshold events: the reading that crossed the threshold, converted like /read' })),
  record_id: Type.String({ description: 'the log record id, 4 hex digits' }),
  sensor: Type.Optional(Type.String({ description: 'the sensor name (SDR id string), or "<type> #0x<number>"' })),
  sensor_type: Type.Optional(Type.String({ description: 'IPMI sensor type, e.g. "Temperature", "Power Supply"' })),
  severity: Type.Union(['ok', 'info', 'warning', 'critical', 'non-recoverable'].map((s) => Type.Literal(s)), { description: 'ok: a fault ended; info, warning, critical, non-recoverable' }),
  threshold: Type.Optional(Type.Number({ description: 'threshold events: the threshold crossed' })),
  time: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'ISO 8601 UTC from the BMC clock; null when the BMC clock was not set' })
})

export const BoardEvents = Type.Object({
  board_id: Type.String(),
  events: Type.Array(BoardEventSchema)
}, { $id: 'BoardEvents', title: 'OpenDCRE Board Events' })

export type BoardEventsT = Static<typeof BoardEvents>
