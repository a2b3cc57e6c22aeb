import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadBmcConfig } from '../../../drivers/ipmi/bmc-config.js'
import { ConfigError } from '../../../drivers/errors.js'
import { referenceFile } from '../../helper.js'

const dir = mkdtempSync(join(tmpdir(), 'bmc-config-'))
let n = 0
function file (text: string): string {
  const path = join(dir, `bmc-${n++}.json`)
  writeFileSync(path, text)
  return path
}

function failure (path: string): ConfigError {
  try {
    loadBmcConfig(path)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

const good = {
  bmc_ip: '127.0.0.1',
  username: 'ADMIN',
  password: 's3cr3t-pw',
  auth_type: 'RAKP_HMAC_SHA1',
  integrity_type: 'HMAC_SHA1_96',
  encryption_type: 'AES_CBC_128'
}

t.test('the reference sample loads: two BMCs on port 623 with their algorithms', async (t) => {
  const bmcs = loadBmcConfig(referenceFile('bmc_config_sample.json')).map((e) => e.target)
  t.same(bmcs.map((b) => [b.host, b.port, b.username, b.auth, b.integrity, b.confidentiality]), [
    ['192.168.1.118', 623, 'ADMIN', 'RAKP_HMAC_SHA1', 'HMAC_SHA1_96', 'AES_CBC_128'],
    ['192.168.1.119', 623, 'root', 'RAKP_HMAC_SHA1', 'HMAC_SHA1_96', 'AES_CBC_128']
  ])
})

t.test('bmc_port picks another UDP port; empty user and password are allowed', async (t) => {
  const [bmc] = loadBmcConfig(file(JSON.stringify({ bmcs: [{ ...good, bmc_port: 9623, username: '', password: '' }] })))
  t.equal(bmc.target.port, 9623)
  t.equal(bmc.target.username, '')
  t.equal(bmc.bootValidBit, 'honour', 'boot flags honour their valid bit by default')
  t.equal(loadBmcConfig(file(JSON.stringify({ bmcs: [{ ...good, boot_valid_bit: 'ignore' }] })))[0].bootValidBit, 'ignore')
  t.equal(bmc.timeoutMs, undefined, 'the session default bound unless configured')
  const timed = loadBmcConfig(file(JSON.stringify({ timeout_ms: 1500, bmcs: [good, { ...good, timeout_ms: 800 }] })))
  t.same(timed.map((e) => e.timeoutMs), [1500, 800], 'a bound for every BMC, or for one')
})

t.test('suite 17 by name or by cipher_suite; no algorithms at all: ask the BMC', async (t) => {
  const sha256 = { ...good, auth_type: 'RAKP_HMAC_SHA256', integrity_type: 'HMAC_SHA256_128', encryption_type: 'AES_CBC_128' }
  const { auth_type: _a, integrity_type: _i, encryption_type: _e, ...bare } = good
  const bmcs = loadBmcConfig(file(JSON.stringify({
    bmcs: [sha256, { ...bare, cipher_suite: 17 }, { ...bare, cipher_suite: 3 }, { ...bare, cipher_suite: 0 }, bare, { ...good, cipher_suite: 3 }]
  }))).map((e) => [e.target.auth, e.target.integrity, e.target.confidentiality])
  t.same(bmcs, [
    ['RAKP_HMAC_SHA256', 'HMAC_SHA256_128', 'AES_CBC_128'],
    ['RAKP_HMAC_SHA256', 'HMAC_SHA256_128', 'AES_CBC_128'],
    ['RAKP_HMAC_SHA1', 'HMAC_SHA1_96', 'AES_CBC_128'],
    ['NO_AUTHENTICATION_ALGORITHM', 'NO_INTEGRITY_ALGORITHM', 'NO_ENCRYPTION_ALGORITHM'],
    [undefined, undefined, undefined],
    ['RAKP_HMAC_SHA1', 'HMAC_SHA1_96', 'AES_CBC_128']
  ], 'names, suite numbers, nothing (negotiate), and a suite that agrees with the names')
})

const broken: Array<[string, string, string, RegExp]> = [
  ['not JSON', '{"bmcs": [', '', /not valid JSON/],
  ['not an object', '[1, 2]', '', /JSON object/],
  ['no bmcs list', '{}', 'bmcs', /missing/],
  ['bmcs not a list', '{"bmcs": 3}', 'bmcs', /list of BMCs/],
  ['missing bmc_ip', JSON.stringify({ bmcs: [{ ...good, bmc_ip: undefined }] }), 'bmcs[0].bmc_ip', /missing required field/],
  ['unknown auth type', JSON.stringify({ bmcs: [good, { ...good, auth_type: 'MD5' }] }), 'bmcs[1].auth_type', /one of NO_AUTHENTICATION_ALGORITHM, RAKP_HMAC_SHA1, RAKP_HMAC_SHA256/],
  ['unknown cipher suite', JSON.stringify({ bmcs: [{ ...good, cipher_suite: 16 }] }), 'bmcs[0].cipher_suite', /one of the cipher suites 0, 1, 2, 3, 17/],
  ['cipher suite disagrees with a name', JSON.stringify({ bmcs: [{ ...good, cipher_suite: 17 }] }), 'bmcs[0].auth_type', /cipher suite 17 uses RAKP_HMAC_SHA256, not RAKP_HMAC_SHA1/],
  ['only some algorithms named', JSON.stringify({ bmcs: [{ ...good, encryption_type: undefined }] }), 'bmcs[0].encryption_type', /name auth_type, integrity_type and encryption_type together/],
  ['unknown integrity', JSON.stringify({ bmcs: [{ ...good, integrity_type: 'HMAC_MD5_128' }] }), 'bmcs[0].integrity_type', /one of/],
  ['unknown encryption', JSON.stringify({ bmcs: [{ ...good, encryption_type: 'xRC4_128' }] }), 'bmcs[0].encryption_type', /one of/],
  ['port out of range', JSON.stringify({ bmcs: [{ ...good, bmc_port: 70000 }] }), 'bmcs[0].bmc_port', /UDP port/],
  ['password too long for IPMI', JSON.stringify({ bmcs: [{ ...good, password: 'x'.repeat(21) }] }), 'bmcs[0].password', /at most 20/],
  ['integrity without authentication', JSON.stringify({ bmcs: [{ ...good, auth_type: 'NO_AUTHENTICATION_ALGORITHM' }] }), 'bmcs[0].integrity_type', /needs an authentication/],
  ['bad boot_valid_bit', JSON.stringify({ bmcs: [{ ...good, boot_valid_bit: 'yes' }] }), 'bmcs[0].boot_valid_bit', /'honour' \(the default\) or 'ignore'/],
  ['timeout too short', JSON.stringify({ timeout_ms: 5, bmcs: [good] }), 'timeout_ms', /from 100 to 60000/],
  ['encryption without integrity', JSON.stringify({ bmcs: [{ ...good, integrity_type: 'NO_INTEGRITY_ALGORITHM' }] }), 'bmcs[0].encryption_type', /needs an integrity/]
]

for (const [name, text, path, reason] of broken) {
  t.test(`broken config: ${name} → the file, the field and the reason`, async (t) => {
    const where = file(text)
    const err = failure(where)
    t.equal(err.file, where)
    t.equal(err.path, path)
    t.match(err.message, reason)
    t.ok(err.message.startsWith(where), err.message)
  })
}

t.test('a JSON error next to a password does not quote the password', async (t) => {
  const where = file('{"bmcs": [{"bmc_ip": "10.0.0.1", "password": "hunter2-secret" "username": "x"}]}')
  const err = failure(where)
  t.match(err.message, /line 1, column \d+/)
  t.notMatch(err.message, /hunter2/)
})

t.test('a schema error on a password field does not quote the password', async (t) => {
  const err = failure(file(JSON.stringify({ bmcs: [{ ...good, password: 'p'.repeat(25) }] })))
  t.notMatch(err.message, /ppppp/)
})

t.test('a missing file names the file', async (t) => {
  const err = failure(join(dir, 'nope.json'))
  t.match(err.message, /nope\.json: cannot read file \(ENOENT\)/)
})
