import fp from 'fastify-plugin'
import type { PollerClock } from '../monitoring/clock.js'
import { Poller } from '../monitoring/poller.js'
import { EventWatch } from '../monitoring/event-watch.js'

export interface PollerPluginOptions {
  /** Tests inject a fake clock; production uses the wall clock. */
  clock?: PollerClock
  random?: () => number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared poller: reads with freshness, the stream, history and the per-sensor metrics read it. */
    poller: Poller
  }
}

/**
 * The one poller over every registered backend (register it after them).
 * It always exists: API reads go through it (freshness, coalescing) and
 * keep their values in it. It polls on its own only when the configuration
 * says so (`poll` in opendcre_config.json, --poll, or the embedded default
 * of `opendcre serve`); then it starts once the server is ready and stops
 * before the backends close.
 */
export default fp<PollerPluginOptions>(async (fastify, opts) => {
  const poller = new Poller({
    buses: fastify.buses,
    config: fastify.config.poll,
    clock: opts.clock,
    random: opts.random,
    log: fastify.log.child({ component: 'poller' })
  })
  fastify.decorate('poller', poller)
  fastify.addMetricFamilies(() => poller.metrics())
  // new event log entries pushed as alerts (monitoring/event-watch.ts), while the poller polls
  const events = new EventWatch({
    boards: () => poller.allBoards(),
    onAlert: (alert) => poller.alert(alert),
    intervalMs: fastify.config.poll.eventsS * 1000,
    looksPerSecond: fastify.config.poll.eventLooksPerS,
    concurrency: fastify.config.poll.concurrency,
    log: fastify.log.child({ component: 'event-watch' })
  })
  if (fastify.config.poll.enabled) {
    fastify.addHook('onReady', async () => {
      // the inventory runs in the background: a slow backend never delays listening
      poller.start().catch(() => {})
      events.start()
    })
  }
  fastify.addHook('preClose', async () => {
    events.stop()
    poller.stop()
  })
}, { name: 'poller', fastify: '5.x', dependencies: ['config', 'bus-registry', 'metrics'] })
