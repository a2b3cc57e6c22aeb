/**
 * The per-packet cryptography of an RMCP+ session (IPMI v2.0 §13.28.4
 * integrity, §13.29 AES-CBC-128 confidentiality) without a crypto object per
 * packet.
 *
 * node:crypto's createHmac/createCipheriv/createDecipheriv make a native
 * context wrapped in a stream object for every call, and those wrappers are
 * freed only by a full garbage collection: at 1,000 BMCs (about a thousand
 * requests a second, four of them per request) they filled the old
 * generation by ~10 MB/s and made the service's RSS and its GC pauses grow.
 * Here each session key gets, once, an AES-128-ECB encrypt and decrypt
 * context (ECB is stateless between blocks, so a context serves every
 * packet; the CBC chaining is the XOR below) and the HMAC pads of RFC 2104
 * computed with crypto.hash's one-shot digest. The contexts are kept beside
 * the key Buffer the session holds (a WeakMap: they go when the key goes).
 */
import { createCipheriv, createDecipheriv, hash, randomFillSync, type Cipher, type Decipher } from 'node:crypto'

const BLOCK = 16
/** SHA-1 and SHA-256 both hash 64-byte blocks (RFC 2104's B). */
const HASH_BLOCK = 64

interface KeyContexts {
  encrypt?: Cipher
  decrypt?: Decipher
  /** Per hash algorithm: the key XOR ipad and XOR opad, each HASH_BLOCK bytes. */
  pads?: Map<string, { inner: Buffer, outer: Buffer }>
}

const contexts = new WeakMap<Buffer, KeyContexts>()

function contextsOf (key: Buffer): KeyContexts {
  let c = contexts.get(key)
  if (c === undefined) {
    c = {}
    contexts.set(key, c)
  }
  return c
}

/** AES-CBC-128 encryption of whole blocks (`plain.length` a multiple of 16) under the first 16 bytes of `key`, written to `out` at `offset`. */
export function aesCbcEncrypt (key: Buffer, iv: Uint8Array, plain: Uint8Array, out: Buffer, offset: number): void {
  const c = contextsOf(key)
  if (c.encrypt === undefined) {
    c.encrypt = createCipheriv('aes-128-ecb', key.subarray(0, BLOCK), null)
    c.encrypt.setAutoPadding(false)
  }
  const block = Buffer.allocUnsafe(BLOCK)
  let prev: Uint8Array = iv
  for (let at = 0; at < plain.length; at += BLOCK) {
    for (let i = 0; i < BLOCK; i++) block[i] = plain[at + i] ^ prev[i]
    const cipherBlock = c.encrypt.update(block)
    out.set(cipherBlock, offset + at)
    prev = cipherBlock
  }
}

/** AES-CBC-128 decryption of whole blocks (`cipherText.length` a multiple of 16) after `iv`. */
export function aesCbcDecrypt (key: Buffer, iv: Uint8Array, cipherText: Uint8Array): Buffer {
  const c = contextsOf(key)
  if (c.decrypt === undefined) {
    c.decrypt = createDecipheriv('aes-128-ecb', key.subarray(0, BLOCK), null)
    c.decrypt.setAutoPadding(false)
  }
  const plain = c.decrypt.update(cipherText)
  for (let i = 0; i < plain.length; i++) plain[i] ^= i < BLOCK ? iv[i] : cipherText[i - BLOCK]
  return plain
}

/** HMAC (RFC 2104) of `data` under `key` with `algorithm` ('sha1' or 'sha256'), the full digest. */
export function hmac (algorithm: 'sha1' | 'sha256', key: Buffer, data: Uint8Array): Buffer {
  const c = contextsOf(key)
  c.pads ??= new Map()
  let pads = c.pads.get(algorithm)
  if (pads === undefined) {
    const k = Buffer.alloc(HASH_BLOCK)
    k.set(key.length > HASH_BLOCK ? hash(algorithm, key, 'buffer') : key)
    // kept per key: memory of their own, not slices of Node's shared pool that keep whole 8 KB slabs alive
    const both = Buffer.allocUnsafeSlow(2 * HASH_BLOCK)
    const inner = both.subarray(0, HASH_BLOCK)
    const outer = both.subarray(HASH_BLOCK)
    for (let i = 0; i < HASH_BLOCK; i++) {
      inner[i] = k[i] ^ 0x36
      outer[i] = k[i] ^ 0x5c
    }
    pads = { inner, outer }
    c.pads.set(algorithm, pads)
  }
  const first = Buffer.allocUnsafe(HASH_BLOCK + data.length)
  first.set(pads.inner, 0)
  first.set(data, HASH_BLOCK)
  const innerDigest = hash(algorithm, first, 'buffer')
  const second = Buffer.allocUnsafe(HASH_BLOCK + innerDigest.length)
  second.set(pads.outer, 0)
  second.set(innerDigest, HASH_BLOCK)
  return hash(algorithm, second, 'buffer')
}

/** IVs drawn from the CSPRNG at once: 512 bytes a session. */
const IV_POOL = 32

/**
 * AES-CBC-128 IVs (§13.29: 16 random bytes per packet), taken in turn from
 * a pool of IV_POOL of them filled from the CSPRNG at once: one
 * randomFillSync per IV_POOL packets, not one per packet (measured at ~3 %
 * of the service's CPU per request). Each IV is handed out once.
 */
export class IvPool {
  // kept for the session's life: memory of its own, not a slice of Node's shared pool that would keep a whole 8 KB slab alive
  private readonly pool = Buffer.allocUnsafeSlow(BLOCK * IV_POOL)
  private nextIndex = IV_POOL

  /** A fresh IV (a view of the pool: encode it before asking for the next one IV_POOL times). */
  next (): Buffer {
    if (this.nextIndex === IV_POOL) {
      randomFillSync(this.pool)
      this.nextIndex = 0
    }
    const at = BLOCK * this.nextIndex++
    return this.pool.subarray(at, at + BLOCK)
  }
}
