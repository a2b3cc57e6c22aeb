// Generated from schemas/json/test-status.json by `npm run schemas` (schemas/generate.ts): do not edit.
// The document's $schema: http://schemas.vapor.io/opendcre/v1.2/opendcre-1.2-test-status
import { Type, type Static } from '@sinclair/typebox'

export const TestStatusDocument = Type.Object({
  status: Type.Optional(Type.String())
}, { title: 'OpenDCRE Test Status' })

export type TestStatusDocumentT = Static<typeof TestStatusDocument>
