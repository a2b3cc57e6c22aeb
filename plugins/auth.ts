import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Counter } from 'prom-client'
import { changesState, declarationOf, describeRequest } from './route-config.js'
import type { AuthFailure, AuthOutcome } from '../auth/outcome.js'
import type { AuthProvider, Identity, Role } from '../auth/provider.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller's role, once authentication is configured (request.identity holds the name). */
    role?: Role
  }
}

interface AuthPluginOptions {
  /** Asked in order; the first identity wins. Closed with the app. */
  providers: AuthProvider[]
}

interface ProviderWithStats extends AuthProvider {
  stats?: { verifications: number }
}

/** One WWW-Authenticate challenge per scheme (Basic from the users file and from LDAP is one challenge). */
function challenges (providers: AuthProvider[], failures: Map<AuthProvider, AuthFailure>): string {
  const byScheme = new Map<string, string>()
  for (const provider of providers) {
    const challenge = failures.get(provider)?.challenge ?? provider.challenge
    const scheme = challenge.split(' ')[0].toLowerCase()
    const seen = byScheme.get(scheme)
    // a failure's own challenge (error="invalid_token") replaces the plain one
    if (seen === undefined || failures.get(provider)?.challenge !== undefined) byScheme.set(scheme, challenge)
  }
  return [...byScheme.values()].join(', ')
}

/**
 * Authentication and roles (issue 5 §2, §3). Registered only when a provider
 * is configured; without one the API stays open, as v1.2's was.
 *
 * Every request, /metrics and the OpenAPI document included, needs
 * credentials, except the routes that declare themselves open (health, for
 * load balancers and orchestrators that carry none; it tells whether the service is up and
 * nothing about the hardware). The providers are asked in order:
 *  - none recognises credentials (none sent, or an unknown scheme): 401;
 *  - credentials that every provider that looked at them refused: 401;
 *    the body is the API's {"message"}, WWW-Authenticate lists every
 *    configured provider's challenge; the reason goes to the log, never the
 *    credentials;
 *  - valid credentials without a role (forbidden): 403;
 *  - an identity: request.identity (the audit log's) and request.role are
 *    set. A viewer may use every read-only command; a state change
 *    (as the route declares it, routes/declaration.ts: power on/off/cycle,
 *    led with a state, fan with an rpm, boot_target with a target) answers
 *    403 to a viewer; so does a route with no declaration. An operator may
 *    do everything.
 */
export default fp<AuthPluginOptions>(async (fastify, opts) => {
  const providers = opts.providers

  const results = new Counter({
    name: 'opendcre_auth_requests_total',
    help: 'Requests by authentication outcome (ok, missing, failed, forbidden) and the provider that decided (none when no provider recognised credentials).',
    labelNames: ['provider', 'result'] as const,
    registers: [fastify.metricsRegistry]
  })
  fastify.metricsRegistry.registerMetric(new Counter({
    name: 'opendcre_auth_verifications_total',
    help: 'Credential checks that did the full work (scrypt, a signature, an LDAP bind), not answered from the verification cache.',
    labelNames: ['provider'] as const,
    registers: [],
    collect () {
      this.reset()
      for (const provider of providers as ProviderWithStats[]) {
        if (provider.stats !== undefined) this.inc({ provider: provider.name }, provider.stats.verifications)
      }
    }
  }))

  // label children made once per (provider, result): a request pays one increment
  const counters = new Map<string, Counter.Internal>()
  const count = (provider: string, result: string): void => {
    const key = `${provider}\n${result}`
    let counter = counters.get(key)
    if (counter === undefined) {
      counter = results.labels(provider, result)
      counters.set(key, counter)
    }
    counter.inc()
  }

  const refuse = (request: FastifyRequest, reply: FastifyReply, failures: Map<AuthProvider, AuthFailure>): FastifyReply => {
    const sent = failures.size > 0
    const provider = sent ? [...failures.keys()][0].name : 'none'
    count(provider, sent ? 'failed' : 'missing')
    if (sent) {
      request.log.warn({ auth: { providers: [...failures.keys()].map((p) => p.name), reasons: [...failures.values()].map((f) => f.failed) } }, 'authentication failed')
    } else {
      request.log.info({ auth: { scheme: authScheme(request) } }, 'authentication required')
    }
    return reply.header('www-authenticate', challenges(providers, failures))
      .cacheControl('no-store')
      .unauthorized(sent ? 'authentication failed' : 'authentication required')
  }

  fastify.addHook('onRequest', async (request, reply) => {
    if (declarationOf(request)?.open === true) return
    const failures = new Map<AuthProvider, AuthFailure>()
    let identity: Identity | undefined
    for (const provider of providers) {
      const result = await (provider.authenticate(request) as Promise<AuthOutcome>)
      if (result === undefined) continue
      if ('failed' in result) {
        failures.set(provider, result)
        continue
      }
      identity = result
      break
    }

    if (identity === undefined) {
      const forbidden = [...failures.entries()].find(([, f]) => f.forbidden === true)
      if (forbidden === undefined) return refuse(request, reply, failures)
      const [provider, failure] = forbidden
      request.identity = failure.name
      count(provider.name, 'forbidden')
      request.log.warn({ auth: { provider: provider.name, identity: failure.name, reason: failure.failed } }, 'authenticated without a role')
      return reply.forbidden(`forbidden: '${failure.name ?? 'this identity'}' has no role here (viewer or operator)`)
    }

    request.identity = identity.name
    request.role = identity.role
    if (identity.role !== 'operator') {
      if (changesState(request)) {
        const { command } = describeRequest(request)
        count(identity.provider, 'forbidden')
        request.log.warn({ auth: { provider: identity.provider, identity: identity.name, role: identity.role, command } }, 'state change refused to a viewer')
        return reply.forbidden(`forbidden: the ${identity.role} role cannot change state (${command}); an operator can`)
      }
    }
    count(identity.provider, 'ok')
  })

  fastify.addHook('onClose', async () => {
    await Promise.all(providers.map(async (p) => await p.close?.()))
  })
}, { name: 'auth', fastify: '5.x', dependencies: ['metrics', 'route-declarations'] })

/** The scheme of an Authorization header, for the log (never its value). */
function authScheme (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  return header.split(' ')[0].slice(0, 20)
}
