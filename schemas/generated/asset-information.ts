// Generated from schemas/json/asset-information.json by `npm run schemas` (schemas/generate.ts): do not edit.
// The document's $schema: http://schemas.vapor.io/opendcre/v1.2/opendcre-1.2-asset-information
import { Type, type Static } from '@sinclair/typebox'

export const AssetInformationDocument = Type.Object({
  bmc_ip: Type.Optional(Type.String()),
  board_info: Type.Optional(Type.Object({
    manufacturer: Type.Optional(Type.String()),
    part_number: Type.Optional(Type.String()),
    product_name: Type.Optional(Type.String()),
    serial_number: Type.Optional(Type.String())
  })),
  chassis_info: Type.Optional(Type.Object({
    chassis_type: Type.Optional(Type.String()),
    part_number: Type.Optional(Type.String()),
    serial_number: Type.Optional(Type.String())
  })),
  product_info: Type.Optional(Type.Object({
    asset_tag: Type.Optional(Type.String()),
    manufacturer: Type.Optional(Type.String()),
    part_number: Type.Optional(Type.String()),
    product_name: Type.Optional(Type.String()),
    serial_number: Type.Optional(Type.String()),
    version: Type.Optional(Type.String())
  }))
}, { title: 'OpenDCRE Asset Information' })

export type AssetInformationDocumentT = Static<typeof AssetInformationDocument>
