import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import securityHeaders, { dependsOnRequest, helmetForAJsonApi, helmetHeaders } from '../plugins/security-headers.js'
import { build, PREFIX } from './helper.js'

/** Every header helmet 8 can set, lower case. */
const HELMET_HEADERS = ['content-security-policy', 'content-security-policy-report-only', 'cross-origin-embedder-policy', 'cross-origin-opener-policy',
  'cross-origin-resource-policy', 'origin-agent-cluster', 'referrer-policy', 'strict-transport-security', 'x-content-type-options',
  'x-dns-prefetch-control', 'x-download-options', 'x-frame-options', 'x-permitted-cross-domain-policies', 'x-xss-protection']

function helmetPart (res: LightMyRequestResponse): Record<string, unknown> {
  return Object.fromEntries(HELMET_HEADERS.filter((name) => name in res.headers).map((name) => [name, res.headers[name]]))
}

/** A server with three answers: a 200, an error thrown by a handler, and (any other URL) the 404. */
async function serverWith (t: Test, plugin: 'precomputed' | '@fastify/helmet', options: FastifyHelmetOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  if (plugin === 'precomputed') await app.register(securityHeaders, options)
  else await app.register(fastifyHelmet, options)
  app.get('/', async () => ({ ok: true }))
  app.get('/fails', async () => { throw new Error('broken') })
  app.get('/own', { helmet: { xFrameOptions: { action: 'sameorigin' }, referrerPolicy: false } }, async () => ({ ok: true }))
  app.get('/none', { helmet: false }, async () => ({ ok: true }))
  await app.ready()
  return app
}

const OPTION_SETS: Array<[string, FastifyHelmetOptions]> = [
  ['the API\'s options, plain HTTP', helmetForAJsonApi(false)],
  ['the API\'s options, TLS', helmetForAJsonApi(true)],
  ['helmet\'s defaults', {}],
  ['a static CSP', { contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } }, xFrameOptions: { action: 'sameorigin' } }]
]

t.test('the headers set once per request are exactly those @fastify/helmet sets per request, on every kind of answer', async (t) => {
  for (const [name, options] of OPTION_SETS) {
    const precomputed = await serverWith(t, 'precomputed', options)
    const perRequest = await serverWith(t, '@fastify/helmet', options)
    for (const url of ['/', '/fails', '/nowhere', '/own', '/none']) {
      const ours = await precomputed.inject({ url })
      const theirs = await perRequest.inject({ url })
      t.equal(ours.statusCode, theirs.statusCode, `${name} ${url}: status`)
      t.same(helmetPart(ours), helmetPart(theirs), `${name} ${url}: the same helmet headers`)
    }
    t.ok(Object.keys(helmetPart(await precomputed.inject({ url: '/' }))).length > 0, `${name}: some headers at all`)
  }
})

t.test('a route\'s own helmet options come from @fastify/helmet, merged over the global ones', async (t) => {
  const app = await serverWith(t, 'precomputed', helmetForAJsonApi(false))
  const own = await app.inject({ url: '/own' })
  t.equal(own.headers['x-frame-options'], 'SAMEORIGIN', 'the route\'s value')
  t.notOk('referrer-policy' in own.headers, 'a header the route turns off')
  t.equal(own.headers['x-content-type-options'], 'nosniff', 'the global value for the rest')
  const none = await app.inject({ url: '/none' })
  t.same(helmetPart(none), {}, 'helmet: false: none')
})

t.test('options whose headers depend on the request keep @fastify/helmet\'s per-request path', async (t) => {
  t.ok(dependsOnRequest({ enableCSPNonces: true }), 'CSP nonces')
  t.ok(dependsOnRequest({ contentSecurityPolicy: { directives: { scriptSrc: ["'self'", () => "'nonce-x'"] } } }), 'a function directive')
  t.notOk(dependsOnRequest({ enableCSPNonces: true, contentSecurityPolicy: false }), 'nonces without a CSP')
  t.notOk(dependsOnRequest(helmetForAJsonApi(true)), "the API's options")
  const app = await serverWith(t, 'precomputed', { enableCSPNonces: true })
  const first = await app.inject({ url: '/' })
  const second = await app.inject({ url: '/' })
  t.match(first.headers['content-security-policy'], /'nonce-[0-9a-f]{32}'/)
  t.not(first.headers['content-security-policy'], second.headers['content-security-policy'], 'a new nonce per answer')
})

t.test('a route whose own options would need the per-request path is refused at startup, by name', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(securityHeaders, helmetForAJsonApi(false))
  t.throws(() => app.get('/nonces', { helmet: { enableCSPNonces: true, contentSecurityPolicy: { directives: { defaultSrc: ["'self'"] } } } }, async () => ({})), /route \/nonces: helmet options whose headers differ per request/)
})

t.test('the service\'s refusals carry the headers too', async (t) => {
  const app = await build(t)
  const expected = helmetHeaders(helmetForAJsonApi(false))
  const refusals = [
    await app.inject({ url: `${PREFIX}/test`, headers: { host: 'attacker.example' } }),
    await app.inject({ url: `${PREFIX}/power/00000001/000d/on`, headers: { 'sec-fetch-site': 'cross-site' } }),
    await app.inject({ url: `${PREFIX}/test?${'a'.repeat(1100)}` }),
    await app.inject({ url: `${PREFIX}/nope` })
  ]
  t.same(refusals.map((res) => res.statusCode), [421, 403, 414, 404])
  for (const res of refusals) t.same(helmetPart(res), expected, `status ${res.statusCode}`)
})
