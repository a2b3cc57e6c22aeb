// Generated from schemas/json/board-location.json by `npm run schemas` (schemas/generate.ts): do not edit.
// The document's $schema: http://schemas.vapor.io/opendcre/v1.2/opendcre-1.2-board-location
import { Type, type Static } from '@sinclair/typebox'

export const BoardLocationDocument = Type.Object({
  physical_location: Type.Optional(Type.Object({
    depth: Type.Optional(Type.String()),
    horizontal: Type.Optional(Type.String()),
    vertical: Type.Optional(Type.String())
  }))
}, { title: 'OpenDCRE BoardLocation' })

export type BoardLocationDocumentT = Static<typeof BoardLocationDocument>
