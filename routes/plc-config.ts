import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { OpenDcreError } from '../drivers/errors.js'
import type { PlcConfig as PlcConfigT } from '../plugins/hat.js'
import { responses } from '../schemas/responses.js'
import { readOnly } from '../plugins/route-config.js'
import { COMMAND_METHODS } from './methods.js'

/** The SIG60 modem configuration (docs/protocol.md §9.2); keys in v1.2's sorted order. */
export const PlcConfig = Type.Object({
  auto_sleep: Type.Boolean(),
  auto_wum: Type.Boolean(),
  bit_rate: Type.Integer(),
  f0: Type.Number(),
  f1: Type.Number(),
  frequency_number: Type.Integer({ minimum: 0, maximum: 1 }),
  interference_detected: Type.Boolean(),
  interference_hopping: Type.Boolean(),
  loopback_enabled: Type.Boolean(),
  long_wum: Type.Boolean(),
  remote_loopback: Type.Boolean()
}, { $id: 'PlcConfig', title: 'OpenDCRE PLC Modem Configuration' })

export interface PlcConfigRouteOptions {
  /** The HAT's modem (HatModem); absent on any other hardware. */
  modem?: { readConfiguration: () => Promise<PlcConfigT> }
}

const UNSUPPORTED_HARDWARE = 'Unsupported hardware type in use. Unable to retrieve modem configuration.'

/** GET|POST /plc_config: the power-line modem's configuration, read from the modem (HAT only). */
const route: FastifyPluginAsyncTypebox<PlcConfigRouteOptions> = async (fastify, opts) => {
  const modem = opts.modem
  fastify.route({
    method: COMMAND_METHODS,
    config: readOnly('plc_config'),
    url: '/plc_config',
    schema: { summary: "The power-line modem's configuration (HAT only)", tags: ['plc_config'], response: responses(PlcConfig) },
    handler: async () => {
      if (modem === undefined) throw new OpenDcreError('unsupported', UNSUPPORTED_HARDWARE)
      return await modem.readConfiguration()
    }
  })
}

export default route
