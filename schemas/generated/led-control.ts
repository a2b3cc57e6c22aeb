// Generated from schemas/json/led-control.json by `npm run schemas` (schemas/generate.ts): do not edit.
// The document's $schema: http://schemas.vapor.io/opendcre/v1.2/opendcre-1.2-led-control
import { Type, type Static } from '@sinclair/typebox'

export const LedControlDocument = Type.Object({
  led_state: Type.Optional(Type.String())
}, { title: 'OpenDCRE LED Control' })

export type LedControlDocumentT = Static<typeof LedControlDocument>
