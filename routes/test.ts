import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TestStatus } from '../schemas/responses.js'
import { commandRoute } from './device-command.js'

/** GET|POST /test: the endpoint is up; never touches a bus. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  commandRoute(fastify, 'test', { url: '/test', summary: 'The endpoint is up (no bus traffic)', response: TestStatus, handler: async () => ({ status: 'ok' }) })
}

export default route
