import fp from 'fastify-plugin'
import mqtt, { type MqttClient } from 'mqtt'
import type { Alert } from '../monitoring/alerts.js'
import { boardSummary } from '../monitoring/board-summary.js'
import type { BoardState } from '../monitoring/sensor-state.js'

/**
 * Alerts and board states to an MQTT broker, when opendcre_config.json has
 * an `mqtt` key (docs/monitoring.md), so consumers across a data center
 * subscribe to one broker rather than to every instance:
 *
 * - `<prefix>/<board_id>/threshold`: a sensor whose state changed (QoS 1);
 * - `<prefix>/<board_id>/log`: a new entry of the board's event log (QoS 1);
 * - `<prefix>/<board_id>/state`: the board's worst state, counts and up
 *   state, retained, published when it changes (and again on reconnect).
 *
 * Nothing waits on the broker: while it is away, alerts are dropped (the
 * retained states are published again on reconnect), so memory stays bounded.
 */
export default fp(async (fastify) => {
  const config = fastify.config.mqtt
  if (config === undefined) return
  const log = fastify.log.child({ component: 'mqtt' })
  const client: MqttClient = mqtt.connect(config.url, {
    clientId: config.clientId ?? `opendcre-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    username: config.username,
    password: config.password,
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
    queueQoSZero: false,
    // nothing is kept for a broker that is away (see above)
    resubscribe: false
  })
  const published = new Map<string, string>()
  // the broker as logs may show it: scheme, host and port, never credentials in the URL
  const brokerForLog = URL.canParse(config.url) ? ((u) => `${u.protocol}//${u.host}`)(new URL(config.url)) : 'the configured broker'
  const topic = (board: string, kind: string): string => `${config.topicPrefix}/${board}/${kind}`
  client.on('error', (err) => log.warn({ err: err.message }, 'mqtt: broker error'))
  client.on('connect', () => {
    log.info({ broker: brokerForLog }, 'mqtt: connected')
    published.clear()
    publishStates()
  })

  function publishState (board: BoardState): void {
    const s = boardSummary(board)
    const payload = JSON.stringify({ board_id: s.board_id, backend: s.backend, up: s.up, state: s.state, counts: s.counts, hottest_c: s.hottest_c, power_status: s.power_status })
    if (published.get(s.board_id) === payload || !client.connected) return
    published.set(s.board_id, payload)
    client.publish(topic(s.board_id, 'state'), payload, { qos: 1, retain: true })
  }
  function publishStates (): void {
    for (const board of fastify.poller.allBoards()) publishState(board)
  }

  const onAlert = (alert: Alert): void => {
    if (!client.connected) return
    client.publish(topic(alert.board_id, alert.kind), JSON.stringify(alert), { qos: 1 })
    if (alert.kind === 'threshold') {
      const board = [...fastify.poller.allBoards()].find((b) => b.board_id === alert.board_id)
      if (board !== undefined) publishState(board)
    }
  }
  const onBoard = (board: BoardState): void => { publishState(board) }
  fastify.poller.on('alert', onAlert)
  fastify.poller.on('board', onBoard)
  const timer = setInterval(publishStates, config.stateIntervalMs)
  timer.unref()
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    fastify.poller.off('alert', onAlert)
    fastify.poller.off('board', onBoard)
    await client.endAsync()
  })
}, { name: 'mqtt', fastify: '5.x', dependencies: ['config', 'poller'] })
