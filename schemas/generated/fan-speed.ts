// Generated from schemas/json/fan-speed.json by `npm run schemas` (schemas/generate.ts): do not edit.
// The document's $schema: http://schemas.vapor.io/opendcre/v1.2/opendcre-1.2-fan-speed
import { Type, type Static } from '@sinclair/typebox'

export const FanSpeedDocument = Type.Object({
  speed_rpm: Type.Optional(Type.Number())
}, { title: 'OpenDCRE Fan Speed' })

export type FanSpeedDocumentT = Static<typeof FanSpeedDocument>
