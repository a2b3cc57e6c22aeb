import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * Who a driver call is made for, carried beside the call rather than through
 * the Bus interface: the HTTP layer runs each request inside `runAs`, and the
 * bus and BMC queues read `currentClient()` to share their time fairly.
 */
const storage = new AsyncLocalStorage<{ client: string }>()

/** Run `fn` (and everything it starts) on behalf of `client` (an address). */
export function runAs<T> (client: string, fn: () => T): T {
  return storage.run({ client }, fn)
}

/** The client the current call is made for; calls made outside a request share one name. */
export function currentClient (): string {
  return storage.getStore()?.client ?? 'internal'
}
