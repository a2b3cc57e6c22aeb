import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { packageRoot } from '../config/paths.js'
import { buildServer, type ServerOptions } from '../server.js'

/** The reference implementation's data files (a copy of ../shared/opendcre-v1.2-data). */
const REFERENCE_DATA = join(packageRoot, 'test', 'fixtures', 'opendcre-v1.2-data')
const FIXTURES = join(packageRoot, 'test', 'fixtures')
export const PREFIX = '/opendcre/1.2'

export function referenceFile (name: string): string {
  return join(REFERENCE_DATA, name)
}

export function fixture (name: string): string {
  return join(FIXTURES, name)
}

interface Teardown {
  teardown: (fn: () => unknown) => void
}

/**
 * The service as production builds it (buildServer), on the in-process
 * emulator, closed when the test ends. Scans do not sleep between re-sends.
 */
export async function build (t: Teardown, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = await buildServer({
    logger: false,
    ...options,
    busPolicy: { scanRetryDelayMs: 0, ...options.busPolicy }
  })
  t.teardown(() => app.close())
  return app
}

/** GET a v1.2 URL (prefix added). */
export async function get (app: FastifyInstance, path: string): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: `${PREFIX}${path}` })
}

/** The device bus's transaction count, as the bus reports it of itself (its /health entry). */
export function busTransactions (app: FastifyInstance): number {
  const status = app.buses.statuses().find((s) => s.backend === 'device_bus')
  if (status === undefined) throw new Error('no device bus configured')
  return status.health.transactions as number
}

/** One of the device bus's own metrics (a single sample), as the bus reports it of itself. */
export function busMetric (app: FastifyInstance, name: string): number {
  const status = app.buses.statuses().find((s) => s.backend === 'device_bus')
  const family = status?.metrics.find((m) => m.name === name)
  if (family === undefined || family.samples.length !== 1) throw new Error(`no single ${name} sample`)
  return family.samples[0].value
}
