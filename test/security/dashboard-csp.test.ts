import t from 'tap'
import { build } from '../helper.js'

t.test('every dashboard answer carries the CSP, whatever the path form; the page always has its API base filled in', async (t) => {
  const app = await build(t)
  const pages = ['/', '/dashboard/', '/dashboard/.', '/dashboard/./', '/dashboard/./index.html', '/dashboard//index.html', '/dashboard/index.html',
    '/dashboard/%2e/index.html', '/dashboard/%2E', '/dashboard/x/../index.html', '/dashboard/./x/../.', '/dashboard/index.html?x=1']
  for (const url of pages) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200, `${url}: the page`)
    t.match(res.headers['content-security-policy'], /default-src 'none'/, `${url}: CSP`)
    t.notMatch(res.body, /\{\{API_BASE\}\}/, `${url}: placeholder replaced`)
    t.match(res.body, /\/opendcre\/1\.2/, `${url}: the API base`)
  }
  for (const url of ['/dashboard/../package.json', '/dashboard/%2e%2e/package.json', '/dashboard/x/../../package.json']) {
    // leaves the dashboard: the API's JSON 404 (nosniff), never a file
    const res = await app.inject({ url })
    t.equal(res.statusCode, 404, url)
    t.match(res.headers['content-type'], /^application\/json/)
    t.match(res.headers['x-content-type-options'], 'nosniff')
  }
  for (const url of ['/dashboard/app.js', '/dashboard/nope.js', '/dashboard/vendor/uPlot.min.css', '/dashboard/vendor/nope.js']) {
    const res = await app.inject({ url })
    t.match(res.headers['content-security-policy'], /default-src 'none'/, `${url} (${res.statusCode}): CSP`)
    t.notMatch(res.body, /"name":\s*"opendcre"/, `${url}: nothing outside the dashboard`)
  }
})
