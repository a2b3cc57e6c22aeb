import t from 'tap'
import { excerptsOf, excerptValue } from '../../drivers/redfish/redfish-excerpts.js'
import { toKindUnits } from '../../drivers/redfish/redfish-sensors.js'

/**
 * The sensor excerpts of an EnvironmentMetrics resource (DSP0268
 * EnvironmentMetrics v1_5: every property of type Sensor excerpt, and the
 * FanSpeedsPercent array), read from a body written here: each property's
 * kind by its unit suffix, a fan's SpeedRPM beside its percent, the
 * DataSourceUri kept, PowerLimitWatts (a Control excerpt) and
 * AbsoluteHumidity (g/m³) left out, those whose Sensor is known skipped.
 */

const URI = '/redfish/v1/Chassis/1/EnvironmentMetrics'
const body = {
  '@odata.id': URI,
  '@odata.type': '#EnvironmentMetrics.v1_5_0.EnvironmentMetrics',
  Name: 'Env',
  TemperatureCelsius: { Reading: 21.5, DataSourceUri: '/redfish/v1/Chassis/1/Sensors/Ambient' },
  AmbientTemperatureCelsius: { Reading: 19 },
  DewPointCelsius: { Reading: 8.5 },
  HumidityPercent: { Reading: 41 },
  AbsoluteHumidity: { Reading: 7.4 },
  PowerWatts: { Reading: 480 },
  PowerLoadPercent: { Reading: 62 },
  PowerLimitWatts: { SetPoint: 500, AllowableMax: 800, Reading: 480 },
  EnergykWh: { Reading: 1234.5 },
  EnergyJoules: { Reading: 7.2e6 },
  CurrentAmps: { Reading: 2.1 },
  Voltage: { Reading: 229.8 },
  FanSpeedsPercent: [
    { DeviceName: 'Fan A', Reading: 40, SpeedRPM: 3000, DataSourceUri: '/redfish/v1/Chassis/1/Sensors/FanA/' },
    { DeviceName: 'Fan B', Reading: 50, SpeedRPM: 3500 }
  ],
  Oem: { Vendor: { Secret: { Reading: 1 } } },
  Links: { Related: { Reading: 2 } }
}

t.test('every Sensor-excerpt property of EnvironmentMetrics, by its unit', async (t) => {
  const found = excerptsOf(body, new Set())
  const byName = Object.fromEntries(found.map((e) => [e.name, e]))
  t.same(found.map((e) => `${e.name}:${e.kind}`).sort(), [
    'Env AmbientTemperatureCelsius:temperature', 'Env CurrentAmps:current', 'Env DewPointCelsius:temperature', 'Env EnergyJoules:energy',
    'Env EnergykWh:energy', 'Env HumidityPercent:humidity', 'Env PowerLoadPercent:percent', 'Env PowerWatts:power',
    'Env TemperatureCelsius:temperature', 'Env Voltage:voltage', 'Fan A RPM:fan_speed', 'Fan A:fan_percent', 'Fan B RPM:fan_speed', 'Fan B:fan_percent'
  ], 'no PowerLimitWatts, AbsoluteHumidity, Oem or Links')
  t.equal(excerptValue(body, byName['Fan B RPM'].at), 3500)
  t.equal(excerptValue(body, byName['Fan A'].at), 40)
  t.equal(byName['Fan A'].source, '/redfish/v1/Chassis/1/Sensors/FanA', 'the DataSourceUri, its trailing slash dropped')
  t.equal(byName['Env PowerWatts'].source, undefined)
  const joules = byName['Env EnergyJoules']
  t.equal(toKindUnits(joules.kind, excerptValue(body, joules.at) as number, joules.fields), 2, '7.2 MJ is 2 kWh')
})

t.test('an excerpt whose Sensor is known is skipped, its SpeedRPM with it; max caps what one resource gives', async (t) => {
  const found = excerptsOf(body, new Set(['/redfish/v1/Chassis/1/Sensors/FanA', '/redfish/v1/Chassis/1/Sensors/Ambient']))
  t.notOk(found.some((e) => e.name.startsWith('Fan A') || e.name === 'Env TemperatureCelsius'))
  const many = { '@odata.id': URI, Name: 'Env', FanSpeedsPercent: Array.from({ length: 100_000 }, (_, i) => ({ Reading: i, SpeedRPM: i })) }
  const capped = excerptsOf(many, new Set(), 6, 50)
  t.equal(capped.length, 50)
  t.same(capped.slice(0, 2).map((e) => e.name), ['Env FanSpeedsPercent 1', 'Env FanSpeedsPercent 1 RPM'], 'named by path, positions from 1')
})
