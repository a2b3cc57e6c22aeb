import type { HTTPMethods } from 'fastify'

/**
 * Every v1.2 command answers GET and, for clients that only POST (or
 * proxies that refuse GET with side effects), POST on the same path with the
 * same result. The body of a POST is ignored (routes/index.ts); HEAD comes
 * with GET, and answers 405 where the request changes state
 * (plugins/route-declarations.ts).
 */
export const COMMAND_METHODS: HTTPMethods[] = ['GET', 'POST']
