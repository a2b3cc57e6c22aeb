import { Type, type Static } from '@sinclair/typebox'

/**
 * GET /health (not in v1.2): whether every configured backend is up, from
 * the service's own state. Properties in alphabetical order, as elsewhere.
 */
export const DeviceBusHealth = Type.Object({
  device: Type.Optional(Type.String({ description: 'the serial device (serial buses only)' })),
  kind: Type.Union([Type.Literal('emulator'), Type.Literal('serial')]),
  last_success: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'when a command or scan last got a well-formed answer; null if none yet'
  }),
  open: Type.Boolean({ description: 'the link to the devices is up' }),
  reason: Type.Optional(Type.String({ description: 'why it is not open' })),
  transactions: Type.Integer({ minimum: 0, description: 'commands sent on the bus since start (scans not counted)' })
})

export const BmcHealth = Type.Object({
  bmc_ip: Type.String(),
  bmc_port: Type.Integer(),
  board_id: Type.String({ description: 'the board this BMC is (40000001, ...)' }),
  last_success: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'when a request to this BMC last got an answer; null if none yet'
  }),
  reason: Type.Optional(Type.String({ description: 'why the session is down' })),
  session: Type.Union([Type.Literal('idle'), Type.Literal('up'), Type.Literal('down')], {
    description: 'idle: not needed yet (sessions open on first use); up: established; down: the last attempt failed'
  })
})

export const IpmiHealth = Type.Object({
  bmcs: Type.Array(BmcHealth),
  config: Type.String({ description: 'the bmc_config.json in use' }),
  reason: Type.Optional(Type.String({ description: 'why the bridge is unavailable (its configuration could not be loaded)' }))
})

export const Health = Type.Object({
  backends: Type.Object({
    device_bus: Type.Optional(DeviceBusHealth),
    ipmi: Type.Optional(IpmiHealth)
  }, {
    // a backend added later reports its own entry under its own key
    additionalProperties: Type.Object({}, { additionalProperties: true })
  }),
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')], {
    description: "'ok' (HTTP 200) when every configured backend is up, else 'degraded' (HTTP 503)"
  })
}, { $id: 'Health', title: 'OpenDCRE Health' })

export type HealthT = Static<typeof Health>
