import t from 'tap'
import { validate, compileErrors } from '@readme/openapi-parser'
import type { TObject } from '@sinclair/typebox'
import { PlcConfig } from '../routes/plc-config.js'
import {
  AssetInformation, BoardLocation, BoardsDevices, BootTarget, DeviceLocation, ErrorResponse,
  FanSpeed, LedControl, PowerStatus, Reading, TestStatus, Version
} from '../schemas/responses.js'
import { build, PREFIX } from './helper.js'
import { COMMAND_ROUTES, openApiPath } from './routes/command-routes.js'

/** The 200 schema each route declares (the document must carry the same one). */
const OK_SCHEMAS: Record<(typeof COMMAND_ROUTES)[number], TObject> = {
  '/test': TestStatus,
  '/scan': BoardsDevices,
  '/scan/:board_id': BoardsDevices,
  '/version/:board_id': Version,
  '/read/:device_type/:board_id/:device_id': Reading,
  '/power/:board_id/:device_id': PowerStatus,
  '/power/:first/:second/:third': PowerStatus,
  '/power/:device_type/:board_id/:device_id/:action': PowerStatus,
  '/asset/:board_id/:device_id': AssetInformation,
  '/boot_target/:board_id/:device_id': BootTarget,
  '/boot_target/:board_id/:device_id/:target': BootTarget,
  '/location/:board_id': BoardLocation,
  '/location/:board_id/:device_id': DeviceLocation,
  '/led/:board_id/:device_id': LedControl,
  '/led/:board_id/:device_id/:led_state': LedControl,
  '/led/:board_id/:device_id/:led_state/:led_color': LedControl,
  '/fan/:board_id/:device_id': FanSpeed,
  '/fan/:board_id/:device_id/:speed_rpm': FanSpeed,
  '/plc_config': PlcConfig
}

interface Operation {
  parameters?: Array<{ in: string, name: string, required?: boolean }>
  responses: Record<string, { description: string, content?: Record<string, { schema: { title?: string, properties?: Record<string, unknown>, required?: string[] } }> }>
}

t.test('the OpenAPI document', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: `${PREFIX}/openapi.json` })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const doc = res.json()

  t.test('is a valid OpenAPI 3 document', async (t) => {
    t.match(doc.openapi, /^3\.0\.\d+$/)
    t.same(doc.info.title, 'OpenDCRE')
    t.same(doc.info.version, '1.2.0')
    t.type(doc.info.description, 'string')
    // validate() dereferences the object it is given: hand it a copy
    const result = await validate(structuredClone(doc))
    t.ok(result.valid, result.valid ? 'valid' : compileErrors(result))
    t.equal(result.specification, 'OpenAPI')
  })

  t.test('lists every command with GET and POST, the same operation for both', async (t) => {
    for (const route of COMMAND_ROUTES) {
      const item = doc.paths[`${PREFIX}${openApiPath(route)}`]
      t.ok(item, `${route} is documented`)
      if (item === undefined) continue
      t.same(Object.keys(item).sort(), ['get', 'post'], `${route}: GET and POST only (HEAD is implied)`)
      t.same(item.post, item.get, `${route}: POST documented as GET`)
    }
  })

  t.test("every operation has the route's own 200 schema and the error schema for 404 and 500", async (t) => {
    for (const route of COMMAND_ROUTES) {
      const operation: Operation | undefined = doc.paths[`${PREFIX}${openApiPath(route)}`]?.get
      if (operation === undefined) {
        t.fail(`${route} is not documented`)
        continue
      }
      const expected = OK_SCHEMAS[route]
      const ok = operation.responses['200']?.content?.['application/json']?.schema
      t.equal(ok?.title, expected.title, `${route}: 200 is ${String(expected.title)}`)
      t.same(Object.keys(ok?.properties ?? {}), Object.keys(expected.properties), `${route}: 200 properties`)
      for (const status of ['404', '500']) {
        const error = operation.responses[status]?.content?.['application/json']?.schema
        t.equal(error?.title, ErrorResponse.title, `${route}: ${status} is the error schema`)
        t.same(Object.keys(error?.properties ?? {}), ['message'], `${route}: ${status} has a message`)
        t.same(error?.required, ['message'])
        t.notMatch(operation.responses[status].description, /Default Response/, `${route}: ${status} is described`)
      }
      const pathParams = [...route.matchAll(/:([a-z_]+)/g)].map((m) => m[1])
      const documented = (operation.parameters ?? []).filter((p) => p.in === 'path')
      t.same(documented.map((p) => p.name), pathParams, `${route}: path parameters`)
      t.ok(documented.every((p) => p.required === true), `${route}: path parameters are required`)
    }
  })

  t.test('a read documents every reading field; ids carry their hex pattern', async (t) => {
    const read: Operation = doc.paths[`${PREFIX}/read/{device_type}/{board_id}/{device_id}`].post
    const schema = read.responses['200'].content?.['application/json'].schema
    for (const field of ['temperature_c', 'humidity', 'speed_rpm', 'led_state', 'device_raw']) {
      t.ok(schema?.properties?.[field], `200 has ${field}`)
    }
    const boardId = (read.parameters ?? []).find((p) => p.name === 'board_id') as { schema?: { pattern?: string } } | undefined
    t.type(boardId?.schema?.pattern, 'string')
  })

  t.test('the document and docs routes are not themselves documented; no $id leaks in', async (t) => {
    const paths = Object.keys(doc.paths)
    t.notOk(paths.some((path) => path.includes('openapi.json') || path.includes('/docs')), 'hidden')
    t.notMatch(res.body, /"\$id"/)
  })
})

t.test('the docs page (swagger-ui)', async (t) => {
  const app = await build(t)
  for (const url of [`${PREFIX}/docs`, `${PREFIX}/docs/`]) {
    const page = await app.inject({ method: 'GET', url })
    t.equal(page.statusCode, 200, url)
    t.match(page.headers['content-type'], /^text\/html/)
    t.match(page.body, /swagger-ui/)
  }
  const script = await app.inject({ method: 'GET', url: `${PREFIX}/docs/static/swagger-initializer.js` })
  t.equal(script.statusCode, 200, 'the page script loads')
  const bundle = await app.inject({ method: 'GET', url: `${PREFIX}/docs/static/swagger-ui-bundle.js` })
  t.equal(bundle.statusCode, 200, 'swagger-ui itself loads')
  const pageDocument = await app.inject({ method: 'GET', url: `${PREFIX}/docs/json` })
  const document = await app.inject({ method: 'GET', url: `${PREFIX}/openapi.json` })
  t.same(pageDocument.json(), document.json(), 'the page shows the same document')
})

t.test('GET /events/{board_id} (not in v1.2) is documented: GET only, its schema, the error schema; reads document the IPMI fields', async (t) => {
  const app = await build(t)
  const doc = (await app.inject({ method: 'GET', url: `${PREFIX}/openapi.json` })).json()
  const item = doc.paths[`${PREFIX}/events/{board_id}`]
  t.same(Object.keys(item ?? {}), ['get'], 'GET only')
  const operation: Operation = item.get
  const ok = operation.responses['200']?.content?.['application/json']?.schema
  t.equal(ok?.title, 'OpenDCRE Board Events')
  t.same(Object.keys(ok?.properties ?? {}), ['board_id', 'events'])
  t.equal(operation.responses['500']?.content?.['application/json']?.schema?.title, 'OpenDCRE Error')
  t.same((operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name), ['board_id'])
  const read: Operation = doc.paths[`${PREFIX}/read/{device_type}/{board_id}/{device_id}`].get
  const reading = read.responses['200'].content?.['application/json'].schema
  for (const field of ['voltage_v', 'current_a', 'power_w']) t.ok(reading?.properties?.[field], `read 200 has ${field}`)
})
