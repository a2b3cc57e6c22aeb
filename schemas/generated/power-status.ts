// Generated from schemas/json/power-status.json by `npm run schemas` (schemas/generate.ts): do not edit.
// The document's $schema: http://schemas.vapor.io/opendcre/v1.2/opendcre-1.2-power-status
import { Type, type Static } from '@sinclair/typebox'

export const PowerStatusDocument = Type.Object({
  input_power: Type.Optional(Type.Number()),
  input_voltage: Type.Optional(Type.Number()),
  output_current: Type.Optional(Type.Number()),
  over_current: Type.Optional(Type.Boolean()),
  pmbus_raw: Type.Optional(Type.String()),
  power_ok: Type.Optional(Type.Boolean()),
  power_status: Type.Optional(Type.String()),
  under_voltage: Type.Optional(Type.Boolean())
}, { title: 'OpenDCRE Power Status' })

export type PowerStatusDocumentT = Static<typeof PowerStatusDocument>
