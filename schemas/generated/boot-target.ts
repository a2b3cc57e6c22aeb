// Generated from schemas/json/boot-target.json by `npm run schemas` (schemas/generate.ts): do not edit.
// The document's $schema: http://schemas.vapor.io/opendcre/v1.2/opendcre-1.2-boot-target
import { Type, type Static } from '@sinclair/typebox'

export const BootTargetDocument = Type.Object({
  target: Type.Optional(Type.String())
}, { title: 'OpenDCRE Boot Target' })

export type BootTargetDocumentT = Static<typeof BootTargetDocument>
