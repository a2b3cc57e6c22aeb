import t from 'tap'
import { OverloadedError } from '../../drivers/errors.js'
import { FairQueue } from '../../drivers/queueing/fair-queue.js'
import { runAs } from '../../drivers/queueing/request-context.js'

/** A job that runs until the test releases it, recording the order jobs started in. */
function gatedJobs (): { job: (name: string) => () => Promise<string>, release: () => void, started: string[] } {
  const started: string[] = []
  const gates: Array<() => void> = []
  return {
    started,
    job: (name) => async () => {
      started.push(name)
      await new Promise<void>((resolve) => gates.push(resolve))
      return name
    },
    release: () => gates.shift()?.()
  }
}

const tick = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))

t.test('one job at a time; clients take turns, a client with nothing waiting first', async (t) => {
  const q = new FairQueue({ depth: 100, waitMs: 10_000 }, 'bus')
  const { job, release, started } = gatedJobs()
  const all: Array<Promise<string>> = []
  for (let i = 0; i < 5; i++) all.push(runAs('10.0.0.1', () => q.run(job(`a${i}`))))
  all.push(runAs('10.0.0.2', () => q.run(job('b0'))))
  all.push(runAs('10.0.0.2', () => q.run(job('b1'))))
  await tick()
  t.same(started, ['a0'], 'one at a time')
  t.equal(q.depth, 6)
  for (let i = 0; i < 7; i++) {
    release()
    await tick()
  }
  t.same(started, ['a0', 'b0', 'a1', 'b1', 'a2', 'a3', 'a4'], 'B goes next, then the lines alternate')
  t.same(await Promise.all(all), ['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1'])
  t.equal(q.depth, 0)
})

t.test('beyond the depth: refused at once with 503 material, unless another client holds more than its share', async (t) => {
  const q = new FairQueue({ depth: 3, waitMs: 10_000 }, 'device bus')
  const { job, release } = gatedJobs()
  const first = runAs('A', () => q.run(job('a0')))
  const waiting = [1, 2, 3].map((i) => runAs('A', () => q.run(job(`a${i}`))).catch((err: unknown) => err))
  const started = Date.now()
  const refused = await runAs('A', async () => await q.run(job('a4')).catch((err: unknown) => err))
  t.ok(refused instanceof OverloadedError, 'the same client beyond the depth is refused')
  t.ok(Date.now() - started < 100, 'at once')
  t.equal((refused as OverloadedError).code, 'overloaded')
  t.match((refused as OverloadedError).message, 'device bus busy: more than 3 requests waiting')
  t.equal((refused as OverloadedError).retryAfterSeconds, 10)

  // another client still gets in: A's newest waiting request gives up its place
  const b = runAs('B', () => q.run(job('b0')))
  const evicted = await waiting[2]
  t.ok(evicted instanceof OverloadedError, "A's newest waiting request is refused")
  t.match((evicted as Error).message, "device bus busy: more than 3 requests waiting; this one gave its place to another client's")
  t.equal(q.depth, 3)
  // B holds 1, A holds 2: a second request of B would not take from A fairly (2 <= 1 + 1)
  const b1 = await runAs('B', async () => await q.run(job('b1')).catch((err: unknown) => err))
  t.ok(b1 instanceof OverloadedError)
  for (let i = 0; i < 4; i++) {
    release()
    await tick()
  }
  t.equal(await first, 'a0')
  t.equal(await waiting[0], 'a1')
  t.equal(await b, 'b0')
  t.equal(await waiting[1], 'a2')
})

t.test('a request that waited too long fails at its deadline, not when its turn comes', async (t) => {
  const q = new FairQueue({ depth: 10, waitMs: 50 }, 'BMC 10.0.0.9:623')
  const { job, release } = gatedJobs()
  const holder = q.run(job('holder'))
  const started = Date.now()
  const err = await q.run(job('late')).catch((e: unknown) => e)
  const waited = Date.now() - started
  t.ok(err instanceof OverloadedError)
  t.match((err as Error).message, 'BMC 10.0.0.9:623 busy: waited more than 50 ms')
  t.ok(waited >= 45 && waited < 1000, `failed after ${waited} ms`)
  t.equal(q.depth, 0)
  release()
  t.equal(await holder, 'holder')
  t.equal(await q.run(async () => 'next'), 'next', 'the queue goes on')
})

t.test('a job that throws (even synchronously) frees the queue; close fails the waiting', async (t) => {
  const q = new FairQueue({ depth: 10, waitMs: 10_000 }, 'bus')
  await t.rejects(q.run(() => { throw new Error('sync') }), /sync/)
  await t.rejects(q.run(async () => { throw new Error('async') }), /async/)
  t.equal(await q.run(async () => 1), 1)
  const { job, release } = gatedJobs()
  const running = q.run(job('r'))
  const waiting = q.run(job('w'))
  q.close(() => new Error('closed'))
  await t.rejects(waiting, /closed/)
  await t.rejects(q.run(async () => 2), /closed/)
  release()
  t.equal(await running, 'r')
})

t.test('a job runs in its own client context, not in that of the job before it', async (t) => {
  const { currentClient } = await import('../../drivers/queueing/request-context.js')
  const q = new FairQueue({ depth: 10, waitMs: 10_000 }, 'bus')
  const { job, release } = gatedJobs()
  const first = runAs('A', () => q.run(job('a')))
  const seen = runAs('B', () => q.run(async () => currentClient()))
  release()
  await first
  t.equal(await seen, 'B')
})
