import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ErrorResponse } from '../schemas/responses.js'

const WhoAmI = Type.Object({
  identity: Type.Union([Type.String(), Type.Null()], { description: 'who the credentials name; null when authentication is off' }),
  role: Type.Union([Type.Literal('viewer'), Type.Literal('operator')], {
    description: 'viewer: read-only commands; operator: every command (everyone, when authentication is off)'
  })
}, { $id: 'WhoAmI', title: 'OpenDCRE caller' })

/**
 * GET /whoami (not in v1.2): who the service takes the caller to be, and the
 * role it grants, so a client (the dashboard) can show the identity and
 * disable what the role may not do. Read-only; it needs the same
 * credentials as every other command.
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/whoami', {
    config: { command: 'whoami', changesState: () => false },
    schema: { summary: 'The caller\'s identity and role', tags: ['auth'], response: { 200: WhoAmI, 401: ErrorResponse, 403: ErrorResponse } }
  }, async (request) => {
    return { identity: request.identity ?? null, role: request.role ?? 'operator' }
  })
}

export default route
