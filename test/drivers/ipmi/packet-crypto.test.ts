import t from 'tap'
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import { aesCbcDecrypt, aesCbcEncrypt, hmac, IvPool } from '../../../drivers/ipmi/packet-crypto.js'

// The per-key contexts must give node:crypto's own HMAC and AES-CBC, packet
// after packet with the same key (the contexts are reused) and across keys.

t.test('HMAC-SHA1 and HMAC-SHA256 equal createHmac, key after key, packet after packet', async (t) => {
  for (const keyLength of [20, 32, 64, 65, 100]) {
    const key = randomBytes(keyLength)
    for (const algorithm of ['sha1', 'sha256'] as const) {
      for (const dataLength of [0, 1, 24, 63, 64, 200]) {
        const data = randomBytes(dataLength)
        t.equal(hmac(algorithm, key, data).toString('hex'), createHmac(algorithm, key).update(data).digest('hex'),
          `${algorithm}, ${keyLength}-byte key, ${dataLength} bytes`)
      }
    }
  }
  // RFC 2202 test case 2 (HMAC-SHA1, key "Jefe")
  t.equal(hmac('sha1', Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?')).toString('hex'), 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79')
})

t.test('AES-CBC-128 equals createCipheriv/createDecipheriv, packet after packet with one key', async (t) => {
  const key = randomBytes(20) // K2 is 20 bytes; its first 16 are the AES key
  for (let packet = 0; packet < 20; packet++) {
    const iv = randomBytes(16)
    const plain = randomBytes(16 * (1 + (packet % 4)))
    const cipher = createCipheriv('aes-128-cbc', key.subarray(0, 16), iv).setAutoPadding(false)
    const expected = Buffer.concat([cipher.update(plain), cipher.final()])
    const out = Buffer.alloc(16 + plain.length)
    aesCbcEncrypt(key, iv, plain, out, 16)
    t.equal(out.subarray(16).toString('hex'), expected.toString('hex'), `packet ${packet} encrypted`)
    t.equal(out.subarray(0, 16).toString('hex'), '00'.repeat(16), 'nothing written before the offset')
    const decipher = createDecipheriv('aes-128-cbc', key.subarray(0, 16), iv).setAutoPadding(false)
    t.same(aesCbcDecrypt(key, iv, expected), Buffer.concat([decipher.update(expected), decipher.final()]), `packet ${packet} decrypted`)
  }
})

t.test('IVs from the pool: 16 bytes each, never the same twice, across refills', async (t) => {
  const ivs = new IvPool()
  const seen = new Set<string>()
  for (let i = 0; i < 200; i++) {
    const iv = ivs.next()
    t.equal(iv.length, 16)
    seen.add(iv.toString('hex'))
  }
  t.equal(seen.size, 200, '200 IVs (six refills of the pool of 32), all different')
  const zero = '00'.repeat(16)
  t.notOk(seen.has(zero), 'no IV of zeros (an unfilled pool)')
})
