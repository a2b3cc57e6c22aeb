// Generated from schemas/json/device-location.json by `npm run schemas` (schemas/generate.ts): do not edit.
// The document's $schema: http://schemas.vapor.io/opendcre/v1.2/opendcre-1.2-device-location
import { Type, type Static } from '@sinclair/typebox'

export const DeviceLocationDocument = Type.Object({
  chassis_location: Type.Optional(Type.Object({
    depth: Type.Optional(Type.String()),
    horiz_pos: Type.Optional(Type.String()),
    vert_pos: Type.Optional(Type.String()),
    server_node: Type.Optional(Type.String())
  })),
  physical_location: Type.Optional(Type.Object({
    depth: Type.Optional(Type.String()),
    horizontal: Type.Optional(Type.String()),
    vertical: Type.Optional(Type.String())
  }))
}, { title: 'OpenDCRE Device Location' })

export type DeviceLocationDocumentT = Static<typeof DeviceLocationDocument>
