// Generated from schemas/json/version.json by `npm run schemas` (schemas/generate.ts): do not edit.
// The document's $schema: http://schemas.vapor.io/opendcre/v1.2/opendcre-1.2-version
import { Type, type Static } from '@sinclair/typebox'

export const VersionDocument = Type.Object({
  api_version: Type.Optional(Type.String()),
  firmware_version: Type.Optional(Type.String()),
  opendcre_version: Type.Optional(Type.String())
}, { title: 'OpenDCRE Board Version' })

export type VersionDocumentT = Static<typeof VersionDocument>
