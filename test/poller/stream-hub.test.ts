import t from 'tap'
import type { Bus, BusStatus, ScannedBoard } from '../../drivers/bus.js'
import { resolvePollConfig } from '../../monitoring/poll-config.js'
import { Poller } from '../../monitoring/poller.js'
import { StreamHub, type EventSink } from '../../monitoring/stream-hub.js'

/** A connection that buffers what it is sent; `reading: false` makes it a client that never reads. */
class Sink implements EventSink {
  texts: string[] = []
  writableLength = 0
  destroyed = false
  ended = false
  private closeListeners: Array<() => void> = []
  constructor (private readonly reading = true) {}
  write (text: string): boolean {
    this.texts.push(text)
    if (!this.reading) this.writableLength += Buffer.byteLength(text)
    return this.reading
  }

  end (): void { this.ended = true; this.close() }
  destroy (): void { this.destroyed = true; this.close() }
  on (_event: 'close', listener: () => void): void { this.closeListeners.push(listener) }
  private close (): void { for (const l of this.closeListeners) l() }
  events (kind: string): any[] {
    return this.texts.filter((x) => x.startsWith(`event: ${kind}\n`)).map((x) => JSON.parse(x.split('\ndata: ')[1]))
  }
}

function fakeBus (): Bus {
  const boards: ScannedBoard[] = [1, 2].map((b) => ({ board_id: `0000000${b}`, devices: [{ device_id: '0001', device_type: 'temperature' }, { device_id: '0002', device_type: 'fan_speed' }] }))
  return {
    name: 'device bus',
    ownsBoard: () => true,
    status: (): BusStatus => ({ backend: 'device_bus', up: true, health: {}, metrics: [] }),
    scanAll: async () => boards,
    scanBoard: async (id) => boards.filter((b) => Number.parseInt(b.board_id, 16) === id),
    read: async (_b, d) => (d === 1 ? { temperature_c: 30.5 } : { speed_rpm: 4000n }),
    power: async () => { throw new Error('not used') },
    version: async () => { throw new Error('not used') },
    asset: async () => { throw new Error('not used') },
    bootTarget: async () => { throw new Error('not used') },
    location: async () => { throw new Error('not used') },
    led: async () => { throw new Error('not used') },
    fan: async () => { throw new Error('not used') },
    close: async () => {}
  }
}

t.test('stream hub: known values on connect, filters, new readings once serialized, slow clients dropped, keep-alive', async (t) => {
  const bus = fakeBus()
  const poller = new Poller({ buses: { all: () => [bus], forBoard: () => bus }, config: resolvePollConfig({ enabled: false }) })
  await poller.read(1, 1, 'temperature')
  await poller.read(2, 2, 'fan_speed')
  const hub = new StreamHub(poller, { keepAliveMs: 50, maxClientBuffer: 1000 })
  t.teardown(() => hub.close())

  const all = new Sink()
  const onlyBoard2 = new Sink()
  const slow = new Sink(false)
  hub.add({ res: all, address: '127.0.0.1', boards: undefined, devices: undefined })
  hub.add({ res: onlyBoard2, address: '127.0.0.1', boards: new Set(['00000002']), devices: undefined })
  hub.add({ res: slow, address: '127.0.0.2', boards: undefined, devices: undefined })
  t.same(all.events('reading').map((e) => [e.board_id, e.device_id, e.reading]), [['00000001', '0001', { temperature_c: 30.5 }], ['00000002', '0002', { speed_rpm: 4000 }]],
    'every known value on connect (a 64-bit integer written as a JSON number)')
  t.same(all.events('board').map((e) => [e.board_id, e.up]), [['00000001', true], ['00000002', true]])
  t.same(onlyBoard2.events('reading').map((e) => e.board_id), ['00000002'], 'filtered by board')

  await poller.read(1, 1, 'temperature')
  t.equal(all.events('reading').length, 3, 'a new reading goes out')
  t.equal(onlyBoard2.events('reading').length, 1, 'not to a client filtering it out')

  for (let i = 0; i < 10; i++) await poller.read(2, 2, 'fan_speed')
  t.ok(slow.destroyed, 'a client more than maxClientBuffer behind is dropped')
  t.notOk(all.destroyed, 'a client that keeps up stays')
  t.equal(hub.size, 2)

  await new Promise((resolve) => setTimeout(resolve, 120))
  t.ok(all.texts.includes(': keep-alive\n\n'), 'keep-alive comments')
  hub.close()
  t.ok(all.ended, 'closing the hub ends every stream')
})
