import fp from 'fastify-plugin'
import type { RouteOptions } from 'fastify'
import { declarationIn, declarationOf, type RouteParams } from './route-config.js'

/**
 * Every route declares what it is (routes/declaration.ts). This plugin,
 * registered before any route:
 *  - refuses to start when a route has no declaration (the app fails at
 *    ready(), naming the routes), so no route can be served that the role
 *    check, the audit log and the metrics cannot classify;
 *  - answers HEAD with 405 where the request would change state: Fastify
 *    exposes HEAD for every GET route and runs its handler, and link
 *    prefetchers and monitoring probes send HEAD. HEAD stays where GET is a
 *    read. This runs before authentication: no credentials make HEAD a
 *    state change.
 */
export default fp(async (fastify) => {
  const routes: RouteOptions[] = []
  fastify.addHook('onRoute', (route) => { routes.push(route) })

  // checked at ready(), after every plugin's own onRoute hooks have run
  // (a foreign plugin's routes are declared by a hook around it, see openapi.ts)
  fastify.addHook('onReady', async () => {
    const undeclared = routes.filter((route) => declarationIn(route.config) === undefined)
    if (undeclared.length > 0) {
      const list = undeclared.map((route) => `${String(route.method)} ${route.url}`).join(', ')
      throw new Error(`routes without a declaration (config: { command, changesState }): ${list}`)
    }
  })

  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.method === 'HEAD') {
      const declaration = declarationOf(request)
      if (declaration === undefined || declaration.changesState((request.params ?? {}) as RouteParams)) {
        reply.header('allow', 'GET, POST').methodNotAllowed('HEAD is not allowed on a command that changes state; use GET or POST')
        return
      }
    }
    done()
  })
}, { name: 'route-declarations', fastify: '5.x' })
