// Generated from schemas/json/thermistor-reading.json by `npm run schemas` (schemas/generate.ts): do not edit.
// The document's $schema: http://schemas.vapor.io/opendcre/v1.2/opendcre-1.2-thermistor-reading
import { Type, type Static } from '@sinclair/typebox'

export const ThermistorReadingDocument = Type.Object({
  temperature_c: Type.Optional(Type.Number())
}, { title: 'OpenDCRE Thermistor Reading' })

export type ThermistorReadingDocumentT = Static<typeof ThermistorReadingDocument>
