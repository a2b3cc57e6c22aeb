import t from 'tap'
import { ConcurrencyLimit } from '../../drivers/queueing/concurrency-limit.js'

const tick = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))

/** Jobs that run until the test releases them one by one, recording the order they started in. */
function gatedJobs (): { job: (name: string) => Promise<string>, release: (name: string) => void, fail: (name: string) => void, started: string[] } {
  const started: string[] = []
  const gates = new Map<string, { resolve: () => void, reject: (err: Error) => void }>()
  return {
    started,
    job: async (name) => {
      started.push(name)
      await new Promise<void>((resolve, reject) => gates.set(name, { resolve, reject }))
      return name
    },
    release: (name) => gates.get(name)?.resolve(),
    fail: (name) => gates.get(name)?.reject(new Error(`${name} failed`))
  }
}

t.test('at most `limit` at once; the others start in the order they came, as places free', async (t) => {
  const limit = new ConcurrencyLimit(2)
  const { job, release, fail, started } = gatedJobs()
  const results = ['a', 'b', 'c', 'd', 'e'].map((name) => limit.run(job, name))
  t.same(started, ['a', 'b'], 'two start at once (synchronously)')
  t.equal(limit.activeCount, 2)
  t.equal(limit.pendingCount, 3)
  release('b')
  t.equal(await results[1], 'b', 'a job settles as its own promise does')
  await tick()
  t.same(started, ['a', 'b', 'c'], 'the oldest waiting job takes the freed place')
  fail('a')
  await t.rejects(results[0], /a failed/, 'a failure reaches its caller')
  await tick()
  t.same(started, ['a', 'b', 'c', 'd'], 'a failed job frees its place too')
  release('c')
  release('d')
  await tick()
  release('e')
  t.same(await Promise.all(results.slice(2)), ['c', 'd', 'e'])
  await tick()
  t.equal(limit.activeCount, 0, 'every place free at the end')
  t.equal(limit.pendingCount, 0)
})

t.test('a job that throws before returning a promise fails and frees its place', async (t) => {
  const limit = new ConcurrencyLimit(1)
  const thrower = (what: string): Promise<string> => { throw new Error(what) }
  await t.rejects(limit.run(thrower, 'boom'), /boom/)
  t.equal(await limit.run(async (x: number) => x * 2, 21), 42, 'the next job runs')
  t.equal(limit.activeCount, 0)
})

t.test('thousands waiting: all run, in order, never more than the limit at once', async (t) => {
  const limit = new ConcurrencyLimit(3)
  let running = 0
  let most = 0
  const order: number[] = []
  const job = async (i: number): Promise<number> => {
    running++
    most = Math.max(most, running)
    order.push(i)
    await tick()
    running--
    return i
  }
  const n = 3000
  const results = await Promise.all(Array.from({ length: n }, (_, i) => limit.run(job, i)))
  t.equal(most, 3, 'three at most')
  t.same(order, Array.from({ length: n }, (_, i) => i), 'started in the order they came')
  t.same(results, order)
  t.equal(limit.pendingCount, 0)
})

t.test('a limit that is not a positive integer is refused', async (t) => {
  t.throws(() => new ConcurrencyLimit(0), /not a positive integer/)
  t.throws(() => new ConcurrencyLimit(1.5), /not a positive integer/)
})

t.test('clearQueue drops the waiting jobs (never started); the running ones finish', async (t) => {
  const limit = new ConcurrencyLimit(1)
  const { job, release, started } = gatedJobs()
  const first = limit.run(job, 'a')
  void limit.run(job, 'b')
  void limit.run(job, 'c')
  t.equal(limit.pendingCount, 2)
  limit.clearQueue()
  t.equal(limit.pendingCount, 0, 'nothing waits')
  release('a')
  t.equal(await first, 'a', 'the running job finishes')
  await tick()
  t.same(started, ['a'], 'the dropped jobs never start')
  t.equal(limit.activeCount, 0)
  const later = limit.run(job, 'd')
  t.same(started, ['a', 'd'], 'a later job starts')
  release('d')
  t.equal(await later, 'd')
})
