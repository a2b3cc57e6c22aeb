import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { fixture, get } from '../helper.js'

/**
 * Line noise, one device each in test/fixtures/routes/line-noise.json. The
 * same table runs in-process (test/routes/) and over a real PTY (test/serial/).
 */
export const LINE_NOISE_CONFIG = fixture('routes/line-noise.json')

interface Case { name: string, device: string, status: 200 | 500, temperature?: number, message?: RegExp }

const LINE_NOISE_CASES: Case[] = [
  { name: 'junk before a packet is skipped', device: '0001', status: 200, temperature: 28.78 },
  { name: 'junk after a packet is left for the next read', device: '0002', status: 200, temperature: 28.78 },
  { name: 'the next request after trailing junk is clean', device: '0009', status: 200, temperature: 28.78 },
  { name: 'a packet too short (length byte says more): timeout', device: '0003', status: 500, message: /No response from bus/ },
  { name: 'a corrupt checksum is answered correctly on retry', device: '0004', status: 200, temperature: 28.78 },
  { name: 'a bad trailer every time: retry limit', device: '0005', status: 500, message: /Retry limit reached on sensor read/ },
  { name: 'a stale sequence number is dropped, the right answer taken', device: '0006', status: 200, temperature: 29.77 },
  { name: 'only a stale answer: timeout', device: '0007', status: 500, message: /No response from bus/ },
  { name: 'no answer at all: timeout', device: '0008', status: 500, message: /No response from bus/ },
  { name: 'and the bus still works', device: '0009', status: 200, temperature: 28.78 }
]

export async function lineNoiseCases (t: Test, app: FastifyInstance): Promise<void> {
  for (const c of LINE_NOISE_CASES) {
    await t.test(c.name, async (t) => {
      const res = await get(app, `/read/thermistor/00000001/${c.device}`)
      t.equal(res.statusCode, c.status)
      if (c.temperature !== undefined) t.same(res.json(), { temperature_c: c.temperature })
      if (c.message !== undefined) t.match(res.json().message, c.message)
    })
  }
}
