import { createHash } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdempotencyConflictError, TooManyTasksError } from '../monitoring/power-tasks.js'
import { PowerTask, planStarts, type PowerPolicy } from '../monitoring/power-task.js'
import { SelectionError } from '../plugins/tasks.js'
import type { RouteDeclaration } from '../plugins/route-config.js'
import { BulkPowerBody, BulkPowerPlan, TaskAccepted, type BulkPowerBodyT } from '../schemas/bulk-power.js'
import { ErrorResponse } from '../schemas/responses.js'

/** A bulk request always counts as a change: operators only, audited (each board's switch too, with the task id). */
const BULK_POWER: RouteDeclaration = {
  command: 'power',
  changesState: () => true,
  target: () => ({ action: 'bulk', board: '*', device: '*' })
}

/** The body's fields: anything else is refused (a mistyped policy field must not be dropped silently). */
const FIELDS = new Set(Object.keys(BulkPowerBody.properties))

/** What a field takes, where ajv's own words (a union's) would not say it. */
const HINTS: Record<string, string> = {
  boards: 'must be "all" or a list of 1 to 100000 distinct board ids (hex, up to 8 digits)',
  action: 'must be on, off, cycle or status',
  backend: 'must be device_bus, ipmi or redfish'
}

/** The largest body a bulk request may send (100,000 board ids fit). */
const BODY_LIMIT = 2 * 1024 * 1024

function policyOf (body: BulkPowerBodyT): PowerPolicy {
  return {
    max_concurrent: body.max_concurrent ?? 16,
    interval_ms: body.interval_ms ?? 0,
    ...(body.max_inrush_watts === undefined ? {} : { max_inrush_watts: body.max_inrush_watts }),
    confirm_reads: body.confirm_reads ?? 20,
    confirm_interval_ms: body.confirm_interval_ms ?? 250,
    retries: body.retries ?? 1,
    read_concurrency: body.read_concurrency ?? 64,
    estimated_switch_ms: body.estimated_switch_ms ?? 1000
  }
}

/**
 * POST /power: bulk power as a task (docs/api.md "Bulk power"). Answers 202
 * {"task_id"} at once; GET /tasks/:task_id follows it. With dry_run, answers
 * 200 with the plan (each board's status read, nothing switched). An
 * Idempotency-Key header makes a repeated request answer the same task.
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  // the commands' parent ignores every body; this one reads JSON
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, text, done) => {
    try {
      done(null, JSON.parse(text as string))
    } catch {
      done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400 }), undefined)
    }
  })

  fastify.post('/power', {
    config: BULK_POWER,
    bodyLimit: BODY_LIMIT,
    attachValidation: true,
    preValidation: async (request, reply) => {
      const body = request.body
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return
      const unknown = Object.keys(body).filter((k) => !FIELDS.has(k))
      if (unknown.length > 0) return await reply.code(400).send({ message: `unknown field${unknown.length === 1 ? '' : 's'} ${unknown.slice(0, 5).join(', ')}: the body takes ${[...FIELDS].join(', ')}` })
    },
    schema: {
      summary: 'Bulk power: switch many boards as one task, staggered and confirmed',
      description: 'Answers 202 {"task_id"}; GET /tasks/{task_id} shows each board\'s progress. dry_run answers 200 with the plan.',
      tags: ['power'],
      body: BulkPowerBody,
      response: { 200: BulkPowerPlan, 202: TaskAccepted, 400: ErrorResponse, 409: ErrorResponse, 500: ErrorResponse, 503: ErrorResponse }
    },
    handler: async (request, reply) => {
      if (request.validationError !== undefined) {
        const first = request.validationError.validation[0]
        const field = first === undefined ? '' : first.instancePath.replace(/^\//, '').replace(/\//g, '.')
        const top = field.split('.')[0]
        const message = request.body === undefined || request.body === null
          ? 'a JSON body is needed (Content-Type: application/json): {"boards": [...] or "all", "action": "on"}'
          : `invalid ${field === '' ? 'body' : field}: ${HINTS[top] ?? first?.message ?? 'validation failed'}`
        return await reply.code(400).send({ message })
      }
      const body = request.body
      const policy = policyOf(body)
      const keyHeader = request.headers['idempotency-key']
      const key = typeof keyHeader === 'string' && keyHeader !== '' ? keyHeader.slice(0, 256) : undefined
      const fingerprint = createHash('sha256').update(JSON.stringify(body)).digest('hex')
      if (key !== undefined && body.dry_run !== true) {
        try {
          const earlier = fastify.powerTasks.replay(key, fingerprint)
          if (earlier !== undefined) return await reply.code(202).header('idempotent-replayed', 'true').send({ task_id: earlier.id })
        } catch (err) {
          if (err instanceof IdempotencyConflictError) return await reply.code(409).send({ message: err.message })
          throw err
        }
      }
      let targets
      try {
        targets = await fastify.powerTargets({ boards: body.boards, backend: body.backend })
      } catch (err) {
        if (err instanceof SelectionError) return await reply.code(400).send({ message: err.message })
        throw err
      }
      if (targets.length === 0) return await reply.code(400).send({ message: 'the selection has no boards with a power device' })

      if (body.dry_run === true) {
        const survey = new PowerTask({ id: 'dry-run', action: body.action, policy, targets, dryRun: true })
        await survey.finished
        const toSwitch = survey.boards.map((b, i) => ({ board: b, watts: targets[i].watts })).filter(({ board }) => board.state === 'pending')
        const plan = planStarts(toSwitch.map(({ board, watts }) => ({ board_id: board.board_id, ...(watts === undefined ? {} : { watts }) })), policy)
        const last = plan.at(-1)
        return await reply.code(200).send({
          dry_run: true,
          action: body.action,
          total: targets.length,
          policy: { ...policy },
          to_switch: plan.length,
          plan,
          skipped: survey.boards.filter((b) => b.state === 'confirmed').map((b) => ({ board_id: b.board_id, power_status: b.power_status ?? 'unknown' })),
          failed: survey.boards.filter((b) => b.state === 'failed').map((b) => ({ board_id: b.board_id, message: b.message ?? 'failed' })),
          estimated_duration_ms: last === undefined ? 0 : last.start_ms + policy.estimated_switch_ms
        })
      }

      try {
        const task = fastify.powerTasks.start({ action: body.action, policy, targets, audit: fastify.auditSwitch(request.identity ?? 'anonymous') },
          key === undefined ? undefined : { key, fingerprint })
        request.log.info({ task_id: task.id, action: body.action, boards: targets.length, policy }, 'bulk power task started')
        return await reply.code(202).header('location', `tasks/${task.id}`).send({ task_id: task.id })
      } catch (err) {
        if (err instanceof TooManyTasksError) return await reply.code(503).header('retry-after', '5').send({ message: err.message })
        throw err
      }
    }
  })
}

export default route
