import type { FastifyPluginAsync } from 'fastify'
import asset from './asset.js'
import bulkPower from './bulk-power.js'
import bootTarget from './boot-target.js'
import events from './events.js'
import fleet from './fleet.js'
import fan from './fan.js'
import history from './history.js'
import led from './led.js'
import location from './location.js'
import plcConfig from './plc-config.js'
import power from './power.js'
import read from './read.js'
import scan from './scan.js'
import states from './states.js'
import stream from './stream.js'
import tasks from './tasks.js'
import test from './test.js'
import version from './version.js'
import whoami from './whoami.js'

/** Every v1.2 command; registered under the configured prefix (/opendcre/1.2 by default) by app.ts. */
const routes: FastifyPluginAsync = async (fastify) => {
  // A POST's body means nothing to a command and is never parsed: no body, an
  // empty one, JSON or anything else, with or without a content type, answers
  // as GET does (within the server's bodyLimit).
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => { done(null, undefined) })

  for (const command of [test, scan, version, read, power, asset, bootTarget, location, led, fan, events, whoami]) {
    await fastify.register(command)
  }
  // the modem configuration read back at startup (the HAT); 500 on other hardware
  // live readings and recent history from the shared poller (docs/monitoring.md)
  await fastify.register(stream)
  // bulk power as a task (a JSON body: its own parser, in its own context) and the tasks it starts
  await fastify.register(bulkPower)
  await fastify.register(tasks)
  await fastify.register(history)
  // the data center's boards from fleet_query_url (the dashboard's fleet page)
  await fastify.register(fleet)
  await fastify.register(states)
  const config = fastify.plcConfig
  await fastify.register(plcConfig, config === undefined ? {} : { modem: { readConfiguration: async () => config } })
}

export default routes
