/**
 * The one error module. Drivers throw these (the device bus's own, and the
 * IPMI bridge's IpmiError, drivers/ipmi/types.ts, which extends
 * OpenDcreError); the HTTP error handler (plugins/errors.ts) turns every one
 * of them into the v1.2 contract (500 + {"message": ...}) while the code
 * keeps the real reason for logs and any future API. Test with instanceof.
 */
export type OpenDcreErrorCode =
  | 'invalid-argument' // malformed id, unknown action, rpm out of range, ...
  | 'not-found' // unknown board (no backend answers for it)
  | 'unsupported' // command not supported for this board / device
  | 'timeout' // no answer within the read timeout
  | 'checksum' // a packet whose checksum does not match
  | 'malformed' // a packet that cannot be a device-bus packet
  | 'retry-limit' // corrupt answers up to the retry limit
  | 'device-error' // the device answered, but not with success (W0, bad value)
  | 'conversion' // a raw value that cannot be converted
  | 'overloaded' // a bus's or a BMC's queue is full, or the request waited too long for its turn (503)
  | 'unavailable' // the transport is closed or not there
  | 'config' // a configuration file is invalid
  | 'auth' // a peer refused our credentials (an IPMI BMC's RAKP)
  | 'session' // a peer refused or lost the session (IPMI: no free session, Open Session refused)
  | 'misdirected' // the board belongs to another shard of the same inventory (421)

export class OpenDcreError extends Error {
  readonly code: OpenDcreErrorCode

  constructor (code: OpenDcreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'OpenDcreError'
    this.code = code
  }
}

/** A packet-level decode failure: these, and only these, are retried with `?`. */
export class PacketError extends OpenDcreError {
  constructor (code: 'checksum' | 'malformed', message: string) {
    super(code, message)
    this.name = 'PacketError'
  }
}

/** No answer within the read timeout; `onRetry` when it was the answer to a `?`. */
export class BusTimeoutError extends OpenDcreError {
  readonly onRetry: boolean

  constructor (onRetry: boolean) {
    super('timeout', 'No response from bus.')
    this.name = 'BusTimeoutError'
    this.onRetry = onRetry
  }
}

/** Refused for load, not for what was asked: try again after `retryAfterSeconds`. */
export class OverloadedError extends OpenDcreError {
  readonly retryAfterSeconds: number

  constructor (message: string, retryAfterSeconds: number) {
    super('overloaded', message)
    this.name = 'OverloadedError'
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** The board is another shard's (config/shard.ts): answered 421, naming the owner. */
export class MisdirectedError extends OpenDcreError {
  constructor (message: string) {
    super('misdirected', message)
    this.name = 'MisdirectedError'
  }
}

export class ConfigError extends OpenDcreError {
  readonly file: string
  readonly path: string
  readonly reason: string

  constructor (file: string, path: string, reason: string) {
    super('config', `${file}: ${path === '' ? '' : `${path}: `}${reason}`)
    this.name = 'ConfigError'
    this.file = file
    this.path = path
    this.reason = reason
  }
}
