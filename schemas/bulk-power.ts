import { Type, type Static } from '@sinclair/typebox'

/** The body of POST /power (bulk power, docs/api.md). */
export const BulkPowerBody = Type.Object({
  boards: Type.Union([
    Type.Literal('all'),
    Type.Array(Type.String({ pattern: '^[0-9A-Fa-f]{1,8}$' }), { minItems: 1, maxItems: 100000, uniqueItems: true })
  ], { description: 'Board ids (hex), or "all"' }),
  backend: Type.Optional(Type.Union([Type.Literal('device_bus'), Type.Literal('ipmi'), Type.Literal('redfish')], {
    description: 'Only this backend\'s boards'
  })),
  action: Type.Union([Type.Literal('on'), Type.Literal('off'), Type.Literal('cycle'), Type.Literal('status')]),
  max_concurrent: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 16, description: 'At most this many boards switching at once' })),
  interval_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600000, default: 0, description: 'At least this long between two starts' })),
  max_inrush_watts: Type.Optional(Type.Number({ minimum: 1, maximum: 1e9, description: 'Bound on the power_on_watts of the boards switching at once' })),
  confirm_reads: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Read-backs after a switch before it counts as not taken' })),
  confirm_interval_ms: Type.Optional(Type.Integer({ minimum: 10, maximum: 60000, default: 250, description: 'Time between read-backs (and before a retry)' })),
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 5, default: 1, description: 'on/off re-sent to a board read back as definitely not switched; never a cycle, never a board whose state cannot be read' })),
  read_concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 64, description: 'Status reads at once while surveying' })),
  estimated_switch_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600000, default: 1000, description: 'A dry run\'s assumed time per switch' })),
  dry_run: Type.Optional(Type.Boolean({ default: false }))
}, { additionalProperties: false })

export type BulkPowerBodyT = Static<typeof BulkPowerBody>

export const TaskAccepted = Type.Object({ task_id: Type.String() })

const TaskBoard = Type.Object({
  board_id: Type.String(),
  state: Type.Union([Type.Literal('pending'), Type.Literal('switching'), Type.Literal('confirmed'), Type.Literal('failed'), Type.Literal('cancelled')]),
  message: Type.Optional(Type.String()),
  power_status: Type.Optional(Type.Union([Type.Literal('on'), Type.Literal('off')])),
  attempts: Type.Integer()
})

export const TaskView = Type.Object({
  task_id: Type.String(),
  action: Type.String(),
  state: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('cancelled')]),
  total: Type.Integer(),
  confirmed: Type.Integer(),
  failed: Type.Integer(),
  pending: Type.Integer(),
  switching: Type.Integer(),
  cancelled: Type.Integer(),
  skipped: Type.Integer({ description: 'Boards already in the requested state (counted in confirmed)' }),
  max_switching: Type.Integer({ description: 'The most boards this task had switching at once' }),
  policy: Type.Record(Type.String(), Type.Unknown()),
  created_at: Type.String(),
  finished_at: Type.Union([Type.String(), Type.Null()]),
  boards: Type.Optional(Type.Array(TaskBoard))
})

export const TaskList = Type.Object({ tasks: Type.Array(TaskView) })

export const TaskParams = Type.Object({ task_id: Type.String({ minLength: 1, maxLength: 64 }) })

/** A dry run's answer: the plan, nothing switched. */
export const BulkPowerPlan = Type.Object({
  dry_run: Type.Literal(true),
  action: Type.String(),
  total: Type.Integer(),
  policy: Type.Record(Type.String(), Type.Unknown()),
  to_switch: Type.Integer(),
  plan: Type.Array(Type.Object({ board_id: Type.String(), start_ms: Type.Number(), power_on_watts: Type.Optional(Type.Number()) })),
  skipped: Type.Array(Type.Object({ board_id: Type.String(), power_status: Type.String() })),
  failed: Type.Array(Type.Object({ board_id: Type.String(), message: Type.String() })),
  estimated_duration_ms: Type.Number()
})
