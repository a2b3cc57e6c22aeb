// Generated from schemas/json/boards-devices.json by `npm run schemas` (schemas/generate.ts): do not edit.
// The document's $schema: http://schemas.vapor.io/opendcre/v1.2/opendcre-1.2-boards-devices
import { Type, type Static } from '@sinclair/typebox'

export const BoardsDevicesDocument = Type.Object({
  boards: Type.Optional(Type.Array(Type.Object({
    board_index: Type.Optional(Type.String()),
    devices: Type.Optional(Type.Array(Type.Object({
      device_id: Type.Optional(Type.String()),
      device_type: Type.Optional(Type.String({ enum: ['temperature', 'thermistor', 'humidity', 'led', 'system', 'power', 'fan_speed', 'pressure'] }))
    })))
  })))
}, { title: 'OpenDCRE Boards and Devices' })

export type BoardsDevicesDocumentT = Static<typeof BoardsDevicesDocument>
