import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { responses, TestStatus } from '../schemas/responses.js'
import { readOnly } from '../plugins/route-config.js'
import { COMMAND_METHODS } from './methods.js'

/** GET|POST /test: the endpoint is up; never touches a bus. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: COMMAND_METHODS,
    config: readOnly('test'),
    url: '/test',
    schema: { summary: 'The endpoint is up (no bus traffic)', tags: ['test'], response: responses(TestStatus) },
    handler: async () => ({ status: 'ok' })
  })
}

export default route
