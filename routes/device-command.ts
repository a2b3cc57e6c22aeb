import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Static, TObject, TSchema } from '@sinclair/typebox'
import type { FastifySchema } from 'fastify'
import { readOnly, type RouteDeclaration, type RouteParams } from '../plugins/route-config.js'
import { parseBoardId, parseDeviceId } from '../schemas/params.js'
import { responses } from '../schemas/responses.js'
import { COMMAND_METHODS } from './methods.js'

/** The instance a route plugin (FastifyPluginAsyncTypebox) is given. */
export type RouteInstance = Parameters<FastifyPluginAsyncTypebox>[0]

/** One URL form of a v1.2 command. */
export interface CommandForm<P extends TObject, R extends TSchema> {
  /** The path under the API's prefix, e.g. '/led/:board_id/:device_id/:led_state'. */
  url: string
  summary: string
  description?: string
  /** The path parameters' schema; absent: the form has none. */
  params?: P
  /** The 200 answer's schema; 404 and 500 answer the API's {"message"}. */
  response: R
  /**
   * The path parameter that names what a set form does (the audit line's
   * action): a request changes state, whatever the value. Absent (and no
   * `config`): the form only reads.
   */
  sets?: keyof Static<P> & string
  /** A declaration of its own, for a command that decides per request (power). */
  config?: RouteDeclaration
  handler: (params: Static<P>) => Promise<Static<R>>
}

/** A set form's declaration: it changes state; the audit line names the command, the parameter's value, board and device. */
export function setsState (command: string, parameter: string): RouteDeclaration {
  return {
    command,
    changesState: () => true,
    target: (p: RouteParams) => ({ action: p[parameter], board: p.board_id, device: p.device_id })
  }
}

/**
 * Registers one form of a command the way every v1.2 command is served: GET
 * and POST alike, its declaration (`config: { command, changesState }`), its
 * schema tagged with the command, the 200 answer and the API's errors.
 */
export function commandRoute<P extends TObject, R extends TSchema> (fastify: RouteInstance, command: string, form: CommandForm<P, R>): void {
  // the schema typed as Fastify's own: the answer's type is the form's handler's, checked there
  const schema: FastifySchema = {
    summary: form.summary,
    ...(form.description !== undefined ? { description: form.description } : {}),
    tags: [command],
    ...(form.params !== undefined ? { params: form.params } : {}),
    response: responses(form.response)
  }
  fastify.route({
    method: COMMAND_METHODS,
    url: form.url,
    config: form.config ?? (form.sets !== undefined ? setsState(command, form.sets) : readOnly(command)),
    schema,
    handler: async (request) => await form.handler(request.params as Static<P>)
  })
}

/** The board and device a path names, parsed (v1.2's messages for a malformed id). */
export function deviceIn (params: { board_id: string, device_id: string }): { boardId: number, deviceId: number } {
  return { boardId: parseBoardId(params.board_id), deviceId: parseDeviceId(params.device_id) }
}
