import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { responses, TestStatus } from '../schemas/responses.js'

/** GET /test: the endpoint is up; never touches a bus. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/test', { schema: { response: responses(TestStatus) } }, async () => ({ status: 'ok' }))
}

export default route
