/**
 * Who a driver call is made for, carried beside the call rather than through
 * the Bus interface: the HTTP layer calls every route handler inside
 * `runAs(client)`, and the bus and BMC queues read `currentClient()` when a
 * job is queued, to share their time fairly (drivers/fair-queue.ts).
 *
 * The client is known while the call runs synchronously, which is when a
 * backend reached straight from a handler queues its job. A backend that
 * queues more work after an await takes its caller along:
 * `onBehalfOfCaller(ops)` or `callerScope()`, taken before the first await.
 *
 * Not AsyncLocalStorage, which would follow awaits by itself: on Node 20 it
 * turns on async hooks for every promise and resource in the process,
 * measured at 12 µs of server CPU per emulator read, a quarter of its cost
 * (docs/benchmarks.md).
 */
let current: string | undefined

/** Run `fn` on behalf of `client`: what it queues before its first await is queued as the client's. */
export function runAs<T> (client: string, fn: () => T): T {
  const outer = current
  current = client
  try {
    return fn()
  } finally {
    current = outer
  }
}

/** The client the current call is made for; calls made outside a request (the poller's) share one name. */
export function currentClient (): string {
  return current ?? 'internal'
}

/** Re-enters the present caller's name later (after an await): `const resume = callerScope(); ... await resume(() => bus.scanAll())`. */
export function callerScope (): <T>(fn: () => T) => T {
  const client = current
  return client === undefined ? (fn) => fn() : (fn) => runAs(client, fn)
}

/** `fns` with every function called on behalf of the present caller, whenever it is called. */
export function onBehalfOfCaller<T extends object> (fns: T): T {
  const client = current
  if (client === undefined) return fns
  const bound: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(fns)) {
    bound[name] = typeof value === 'function'
      ? (...args: unknown[]) => runAs(client, () => (value as (...a: unknown[]) => unknown).apply(fns, args))
      : value
  }
  return bound as T
}
