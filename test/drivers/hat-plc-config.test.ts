import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import t from 'tap'
import { OpenDcreError } from '../../drivers/errors.js'
import { DEFAULT_MODEM_CONFIG, type PlcConfig } from '../../drivers/hat/sig60-modem.js'
import errors from '../../plugins/errors.js'
import plcConfig, { type PlcConfigRouteOptions } from '../../routes/plc-config.js'

const PREFIX = '/opendcre/1.2'

/** The route with the app's error handler, as app.ts will register it. */
async function build (t: { teardown: (fn: () => unknown) => void }, options: PlcConfigRouteOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>()
  await app.register(errors)
  await app.register(plcConfig, { prefix: PREFIX, ...options })
  await app.ready()
  t.teardown(() => app.close())
  return app
}

t.test('GET /plc_config on the HAT: the modem configuration, keys sorted as v1.2 sends them', async (t) => {
  let reads = 0
  const app = await build(t, { modem: { readConfiguration: async () => { reads++; return { ...DEFAULT_MODEM_CONFIG } } } })
  const res = await app.inject({ method: 'GET', url: `${PREFIX}/plc_config` })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/json/)
  t.equal(res.body, '{"auto_sleep":true,"auto_wum":false,"bit_rate":115200,"f0":5.5,"f1":10.5,"frequency_number":1,' +
    '"interference_detected":false,"interference_hopping":false,"loopback_enabled":false,"long_wum":true,"remote_loopback":false}')
  t.equal(reads, 1, 'read from the modem on every request')
})

t.test('GET /plc_config on other hardware: 500 with the v1.2 message', async (t) => {
  const app = await build(t, {})
  const res = await app.inject({ method: 'GET', url: `${PREFIX}/plc_config` })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { message: 'Unsupported hardware type in use. Unable to retrieve modem configuration.' })
})

t.test('GET /plc_config when the modem fails: 500 with the reason', async (t) => {
  const app = await build(t, { modem: { readConfiguration: async (): Promise<PlcConfig> => { throw new OpenDcreError('unavailable', 'modem wake failed: INH stayed low for 1 s') } } })
  const res = await app.inject({ method: 'GET', url: `${PREFIX}/plc_config` })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { message: 'modem wake failed: INH stayed low for 1 s' })
})
