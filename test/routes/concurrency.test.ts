import t from 'tap'
import { build, fixture, get } from '../helper.js'

/**
 * 50 parallel mixed requests on one bus: each gets exactly the answer the
 * emulator's response lists dictate for it. Every device's list holds values
 * no other device has, so an answer that crossed to another request shows.
 */
t.test('50 parallel mixed requests: no answer crosses to another request', async (t) => {
  const app = await build(t, { emulator: fixture('routes/concurrency.json') })

  interface Job { path: string, device: string, kind: 'temperature' | 'power' | 'fan' | 'fan-set' | 'version' | 'scan' | 'thermistor' }
  const jobs: Job[] = []
  for (let i = 0; i < 50; i++) {
    const pick = i % 7
    if (pick <= 2) {
      const k = (i % 20) + 1
      jobs.push({ path: `/read/temperature/00000001/${k.toString(16).padStart(4, '0')}`, device: `t${k}`, kind: 'temperature' })
    } else if (pick === 3) {
      const k = (i % 5) + 1
      jobs.push({ path: `/power/00000001/${(0x100 + k).toString(16)}`, device: `p${k}`, kind: 'power' })
    } else if (pick === 4) {
      const k = (i % 3) + 1
      jobs.push({ path: `/fan/00000001/${(0x200 + k).toString(16)}${i % 2 === 0 ? '/3000' : ''}`, device: `f${k}`, kind: i % 2 === 0 ? 'fan-set' : 'fan' })
    } else if (pick === 5) {
      jobs.push({ path: `/version/0000000${(i % 2) + 1}`, device: 'v', kind: 'version' })
    } else {
      jobs.push({ path: i % 2 === 0 ? '/scan/00000002' : '/read/thermistor/00000002/0001', device: 'b2', kind: i % 2 === 0 ? 'scan' : 'thermistor' })
    }
  }

  const responses = await Promise.all(jobs.map(async (job) => await get(app, job.path)))

  const seen = new Map<string, number[]>()
  responses.forEach((res, i) => {
    const job = jobs[i]
    t.equal(res.statusCode, 200, job.path)
    const body = res.json()
    let value: number
    switch (job.kind) {
      case 'temperature':
        value = body.temperature_c
        t.equal(Math.floor(value / 100), Number(job.device.slice(1)), `${job.path} got its own device's value`)
        break
      case 'power':
        value = Number(body.pmbus_raw.split(',')[0])
        t.equal(Math.floor(value / 1000), Number(job.device.slice(1)), `${job.path} got its own device's status`)
        break
      case 'fan':
      case 'fan-set':
        value = body.speed_rpm
        t.equal(Math.floor(value / 1000), Number(job.device.slice(1)), `${job.path} got its own fan's speed`)
        break
      case 'version':
        t.equal(body.firmware_version, `Concurrency Board ${job.path.slice(-1)}`)
        return
      case 'scan':
        t.same(body, { boards: [{ board_id: '00000002', devices: [{ device_id: '0001', device_type: 'thermistor' }] }] })
        return
      case 'thermistor':
        t.same(body, { temperature_c: 28.78 })
        return
    }
    const list = seen.get(job.device) ?? []
    list.push(value)
    seen.set(job.device, list)
  })

  // each device answered its list in order, each value once: n requests got values base+0 .. base+n-1;
  // identical reads in flight together share one device transaction (coalescing), so all got base+0
  for (const [device, values] of seen) {
    if (device.startsWith('t')) {
      const base = Number(device.slice(1)) * 100
      t.same(values, values.map(() => base), `device ${device}: ${values.length} identical concurrent reads shared one transaction`)
      continue
    }
    const base = Number(device.slice(1)) * 1000
    t.same([...values].sort((a, b) => a - b), values.map((_, i) => base + i), `device ${device}: every response used exactly once`)
  }
})
