import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { SERVICE_NODE_FLAGS, shippedCommand } from '../bench/harness.js'
import { packageRoot } from '../config/paths.js'
import { build, get } from './helper.js'

t.test('the bench runs the service with the command npm start, the CLI and the Docker image use', async (t) => {
  t.same(shippedCommand(), ['node', ...SERVICE_NODE_FLAGS, 'dist/cli/opendcre.js', 'serve'], "npm start's command line")
  t.same(SERVICE_NODE_FLAGS, ['--max-semi-space-size=16', '--heap-growing-percent=50'], 'the young and old generation settings measured in docs/monitoring.md')
  const shebang = readFileSync(join(packageRoot, 'cli', 'opendcre.ts'), 'utf8').split('\n')[0]
  t.equal(shebang, `#!/usr/bin/env -S node ${SERVICE_NODE_FLAGS.join(' ')}`, "the CLI's shebang")
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(packageRoot, 'Dockerfile'), 'utf8'))
  t.same(JSON.parse(entrypoint?.[1] ?? '[]'), ['node', ...SERVICE_NODE_FLAGS, 'dist/cli/opendcre.js'], "the image's entrypoint")
})

t.test('every answer carries the security headers, set once per request, and no CORS unless configured', async (t) => {
  const app = await build(t)
  for (const res of [await get(app, '/test'), await get(app, '/read/thermistor/00000001/00ff'), await app.inject({ url: '/nowhere' })]) {
    t.notOk('access-control-allow-origin' in res.headers, 'no CORS by default')
    t.match(res.headers, {
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-resource-policy': 'same-origin'
    }, `status ${res.statusCode}`)
    t.notOk('content-security-policy' in res.headers, 'no document-only header on a JSON API')
    t.notOk('strict-transport-security' in res.headers, 'no HSTS without TLS')
  }
  const none = await build(t, { corsOrigin: '' })
  const res = await get(none, '/test')
  t.notOk('access-control-allow-origin' in res.headers, "--cors-origin '': no CORS header")
  t.equal(res.headers['x-frame-options'], 'DENY')
})
