import { Type, type Static } from '@sinclair/typebox'

/**
 * opendcre_config.json's `mqtt` key: where alerts and board states are
 * published (plugins/mqtt.ts, docs/monitoring.md). Absent: no MQTT.
 */
export const MqttConfigFileSchema = Type.Object({
  url: Type.String({ pattern: '^(mqtts?|wss?|tcp)://', errorMessage: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' }),
  topic_prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[^#+]*[^#+/]$', errorMessage: 'must be a topic without wildcards or a trailing /' })),
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  username: Type.Optional(Type.String({ minLength: 1 })),
  password: Type.Optional(Type.String()),
  /** Seconds between two looks for changed board states (retained topics); alerts go at once. */
  state_interval_s: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3600, errorMessage: 'must be a number of seconds above 0, at most 3600' }))
}, { additionalProperties: false, errorMessage: 'mqtt takes {url, topic_prefix, client_id, username, password, state_interval_s}' })

export type MqttConfigFile = Static<typeof MqttConfigFileSchema>

export interface MqttConfig {
  url: string
  topicPrefix: string
  clientId?: string
  username?: string
  password?: string
  stateIntervalMs: number
}

export function resolveMqttConfig (file: MqttConfigFile | undefined): MqttConfig | undefined {
  if (file === undefined) return undefined
  return {
    url: file.url,
    topicPrefix: file.topic_prefix ?? 'opendcre',
    clientId: file.client_id,
    username: file.username,
    password: file.password,
    stateIntervalMs: (file.state_interval_s ?? 5) * 1000
  }
}
