import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, posix } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyReply } from 'fastify'
import { packageRoot } from '../config/paths.js'

/** The page and its own scripts and styles, shipped in the package. */
const DASHBOARD_DIR = join(packageRoot, 'dashboard')

const require = createRequire(import.meta.url)

/**
 * The browser libraries the page uses, served from the installed npm
 * packages (nothing is fetched from a CDN): uPlot draws the plots,
 * eventsource-parser reads the event stream (fetch() carries the
 * Authorization header, which EventSource cannot).
 */
const VENDOR: Record<string, string> = {
  'uPlot.iife.min.js': require.resolve('uplot/dist/uPlot.iife.min.js'),
  'uPlot.min.css': require.resolve('uplot/dist/uPlot.min.css'),
  'eventsource-parser.js': join(dirname(require.resolve('eventsource-parser')), 'index.js')
}

/** Only the page's documents: its own resources, the API on the same origin. */
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

interface DashboardOptions {
  /** Where the API answers (/opendcre/1.2): written into the page. */
  apiBase: string
}

/**
 * The operator's dashboard (issue 15): GET / is the page, /dashboard/* its
 * files. Static files through @fastify/static (ranges, ETags, conditional
 * requests, no path traversal); the page talks only to the public API.
 */
const dashboard: FastifyPluginAsyncTypebox<DashboardOptions> = async (fastify, opts) => {
  // serve: false: no routes of its own; the routes below declare what they are; index: false: the
  // page is only ever sent by sendPage (its placeholder filled in), never as a directory's index
  await fastify.register(fastifyStatic, { root: DASHBOARD_DIR, serve: false, index: false })
  // every answer of the dashboard's routes carries the CSP, whatever the path form, errors included
  fastify.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', PAGE_CSP)
    return payload
  })
  const page = readFileSync(join(DASHBOARD_DIR, 'index.html'), 'utf8').replaceAll('{{API_BASE}}', opts.apiBase)

  const sendPage = async (reply: FastifyReply): Promise<void> => {
    await reply
      .header('content-type', 'text/html; charset=utf-8')
      .cacheControl('no-cache')
      .header('content-security-policy', PAGE_CSP)
      .send(page)
  }
  fastify.get('/', { config: { command: 'dashboard', changesState: () => false, open: true }, schema: { hide: true, params: Type.Object({}) } }, async (_request, reply) => { await sendPage(reply) })

  fastify.get('/dashboard/*', { config: { command: 'dashboard', changesState: () => false, open: true }, schema: { hide: true, params: Type.Object({ '*': Type.String() }) } }, async (request, reply) => {
    // '/dashboard/.', '/dashboard/./index.html', '/dashboard/x/../index.html': the same page
    const file = posix.normalize(request.params['*'] === '' ? '.' : request.params['*']).replace(/^\/+/, '')
    if (file === '.' || file === './' || file === 'index.html') return await sendPage(reply)
    if (file.startsWith('..')) return await reply.code(404).send({ message: 'not found' })
    return await reply.cacheControl('no-cache').sendFile(file)
  })

  fastify.get('/dashboard/vendor/:file', { config: { command: 'dashboard', changesState: () => false, open: true }, schema: { hide: true, params: Type.Object({ file: Type.String() }) } }, async (request, reply) => {
    const path = VENDOR[request.params.file]
    if (path === undefined || !Object.hasOwn(VENDOR, request.params.file)) return reply.notFound('not found')
    return await reply.cacheControl('public').maxAge(86400).sendFile(path.slice(dirname(path).length + 1), dirname(path))
  })
}

export default dashboard
