import type { Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { get } from '../helper.js'

/** Shared by the ported v1.2 suites: a GET that must succeed, one that must fail. */
export type Json = Record<string, any>

/** GET, assert 200, return the parsed body. */
export async function ok (t: Test, app: FastifyInstance, path: string): Promise<Json> {
  const res = await get(app, path)
  t.equal(res.statusCode, 200, `GET ${path} -> 200`)
  return parse(t, res, path)
}

/** GET, assert the error status and our JSON error contract ({"message": string}). */
export async function fails (t: Test, app: FastifyInstance, path: string, status = 500): Promise<void> {
  const res = await get(app, path)
  t.equal(res.statusCode, status, `GET ${path} -> ${status}`)
  const body = parse(t, res, path)
  t.type(body.message, 'string', `GET ${path}: body has a string message`)
}

function parse (t: Test, res: LightMyRequestResponse, path: string): Json {
  try {
    return res.json()
  } catch {
    t.fail(`GET ${path}: body is not JSON: ${res.body}`)
    return {}
  }
}
