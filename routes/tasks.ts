import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { taskView } from '../monitoring/power-tasks.js'
import { readOnly, type RouteDeclaration } from '../plugins/route-config.js'
import { TaskList, TaskParams, TaskView } from '../schemas/bulk-power.js'
import { ErrorResponse } from '../schemas/responses.js'

/** Cancelling a task changes state: operators only, audited. */
const CANCEL: RouteDeclaration = {
  command: 'tasks',
  changesState: () => true,
  target: (p) => ({ action: 'cancel', board: p.task_id ?? '', device: '*' })
}

/**
 * Bulk power tasks (docs/api.md "Bulk power"): GET /tasks lists the kept
 * ones (without their boards), GET /tasks/:task_id shows one with every
 * board's progress, DELETE /tasks/:task_id cancels it (no new switch starts;
 * those under way are still confirmed).
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const notFound = { message: 'no such task (finished tasks are kept for an hour, the latest 100 at most)' }

  fastify.get('/tasks', {
    config: readOnly('tasks'),
    schema: { summary: 'Bulk power tasks, without their boards', tags: ['power'], response: { 200: TaskList, 500: ErrorResponse } },
    handler: async () => ({ tasks: fastify.powerTasks.list().map((t) => taskView(t, false)) as any })
  })

  fastify.get('/tasks/:task_id', {
    config: readOnly('tasks'),
    schema: { summary: 'A bulk power task: totals and each board\'s progress', tags: ['power'], params: TaskParams, response: { 200: TaskView, 404: ErrorResponse, 500: ErrorResponse } },
    handler: async (request, reply) => {
      const task = fastify.powerTasks.get(request.params.task_id)
      if (task === undefined) return await reply.code(404).send(notFound)
      return taskView(task) as any
    }
  })

  fastify.delete('/tasks/:task_id', {
    config: CANCEL,
    schema: {
      summary: 'Cancel a bulk power task: no new switch starts',
      tags: ['power'],
      params: TaskParams,
      response: { 200: Type.Omit(TaskView, ['boards']), 404: ErrorResponse, 500: ErrorResponse }
    },
    handler: async (request, reply) => {
      const task = fastify.powerTasks.get(request.params.task_id)
      if (task === undefined) return await reply.code(404).send(notFound)
      task.cancel()
      request.log.info({ task_id: task.id }, 'bulk power task cancelled')
      return taskView(task, false) as any
    }
  })
}

export default route
