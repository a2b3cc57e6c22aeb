import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import { logs, silentLogger, type DriverLogger } from '../../drivers/logger.js'
import { BOARD_ID_BITS, COMMANDS, deviceTypeCode, deviceTypeName } from '../../drivers/device-bus/device-types.js'
import { checksum, decodePacket, encodePacket, MAX_DATA_LENGTH, toHex, type Packet } from '../../drivers/device-bus/packet-codec.js'
import { PacketFramer } from '../../drivers/device-bus/packet-framer.js'
import type {
  EmulatorAction,
  EmulatorBoard,
  EmulatorConfig,
  EmulatorDevice as DeviceConfig,
  EmulatorResponse,
  ScanAllResult
} from './emulator-config.js'

/** Raw-byte sentinels (docs/protocol.md §7.3). */
const SEQUENCE_SENTINEL = 999
const CHECKSUM_SENTINEL = 1000

type RawList = number[]

/**
 * Replace the sentinels of a raw response: 999 -> the request's sequence
 * number; 1000 + k -> the checksum of the (already replaced) bytes from index k
 * up to this position.
 */
export function transformRaw (raw: readonly number[], sequence: number): Buffer {
  const out = Buffer.alloc(raw.length)
  raw.forEach((x, i) => {
    if (x === SEQUENCE_SENTINEL) out[i] = sequence
    else if (x >= CHECKSUM_SENTINEL && x <= CHECKSUM_SENTINEL + 255) out[i] = checksum(out, x - CHECKSUM_SENTINEL, i)
    else out[i] = x
  })
  return out
}

/** Corrupt a failed board's scan packet: +1 (mod 255) to every byte but 0x01 and 0x04. */
export function injectError (bytes: Buffer): Buffer {
  return Buffer.from(bytes.map((b) => (b === 0x01 || b === 0x04 ? b : (b + 1) % 255)))
}

/** What Python's str() makes of a configured value, sent as ASCII. */
function asciiOf (value: Exclude<EmulatorResponse, null | RawList>): Buffer {
  return Buffer.from(String(value), 'latin1')
}

interface ListCursor { count: number, retryCount: number }
interface BoardCursor { scan: number, retryScan: number, retryVersion: number }

/**
 * A device-bus board set that speaks the byte protocol, configured by
 * OpenDCRE's emulator JSON. It answers over any duplex stream: the in-memory
 * pair in-process, or a serial device / PTY.
 *
 * Emits 'idle' (packets handled so far) after it has answered every complete
 * packet it has received, which lets an in-memory client skip the read timeout.
 */
export class EmulatorDevice extends EventEmitter {
  private readonly boards = new Map<number, EmulatorBoard>()
  private readonly actionCursors = new WeakMap<EmulatorAction, ListCursor>()
  private readonly boardCursors = new WeakMap<EmulatorBoard, BoardCursor>()
  private scanAllIndex = 0
  private readonly scanAllRetryCounts = new Map<number, number>()
  private previous?: Packet
  private handled = 0
  private readonly log: DriverLogger

  constructor (private readonly config: EmulatorConfig, options: { log?: DriverLogger } = {}) {
    super()
    this.log = options.log ?? silentLogger
    for (const board of config.boards) this.boards.set(parseInt(board.board_id, 16), board)
  }

  /** Serve the protocol on a stream until it closes. */
  attach (stream: Duplex): void {
    const framer = new PacketFramer()
    stream.on('data', (chunk: Buffer) => {
      framer.push(chunk)
      for (let frame = framer.next(); frame !== undefined; frame = framer.next()) {
        this.handled++
        let request: Packet
        try {
          request = decodePacket(frame)
        } catch (err) {
          this.log.warn({ rx: toHex(frame), reason: (err as Error).message }, 'emulator: ignoring corrupt request')
          continue
        }
        for (const answer of this.handle(request)) {
          if (logs(this.log, 'debug')) this.log.debug({ tx: toHex(answer) }, 'emulator ->')
          if (!stream.destroyed) stream.write(answer)
        }
      }
      this.emit('idle', this.handled)
    })
    stream.on('error', (err) => this.log.warn({ err }, 'emulator stream error'))
  }

  /** The bytes to send in answer to one request (none: silence). */
  handle (request: Packet): Buffer[] {
    if (logs(this.log, 'debug')) this.log.debug({ rx: toHex(encodePacket(request)) }, 'emulator <-')
    let command = request
    let isRetry = false
    if (request.data[0] === COMMANDS.retry && this.previous !== undefined) {
      command = this.previous
      isRetry = true
    } else if (request.data[0] === COMMANDS.scan && this.previous !== undefined &&
      this.previous.data[0] === COMMANDS.scan && this.previous.sequence === request.sequence &&
      this.previous.boardId === request.boardId) {
      // a scan re-sent after a corrupt answer keeps its sequence number
      isRetry = true
    }
    const answers = this.answer(command, request, isRetry)
    this.previous = command
    return answers
  }

  private answer (command: Packet, request: Packet, isRetry: boolean): Buffer[] {
    const sequence = request.sequence
    switch (command.data[0]) {
      case COMMANDS.scan:
        if ((command.boardId & BOARD_ID_BITS.save) !== 0) return []
        if ((command.boardId & BOARD_ID_BITS.scanAll) !== 0) return this.scanAll(command, sequence)
        return this.scanBoard(command, sequence, isRetry)
      case COMMANDS.version:
        return this.version(command, sequence, isRetry)
      case COMMANDS.read: {
        if (command.data.length !== 1) return []
        const device = this.findDevice(command, (d) => d.read !== undefined && typesCompatible(d, command.deviceType))
        return device?.read !== undefined ? this.fromAction(device.read, command, sequence, sequence, isRetry) : []
      }
      case COMMANDS.write: {
        const device = this.findDevice(command, (d) => d.write !== undefined && typesCompatible(d, command.deviceType))
        return device?.write !== undefined ? this.fromAction(device.write, command, sequence, command.sequence, isRetry) : []
      }
      case COMMANDS.power: {
        const device = this.findDevice(command, (d) => d.device_type === 'power' && d.power !== undefined)
        return device?.power !== undefined ? this.fromAction(device.power, command, sequence, command.sequence, isRetry) : []
      }
      default:
        return []
    }
  }

  private findDevice (command: Packet, accept: (device: DeviceConfig) => boolean): DeviceConfig | undefined {
    const board = this.boards.get(command.boardId)
    return board?.devices?.find((d) => parseInt(d.device_id, 16) === command.deviceId && accept(d))
  }

  private actionCursor (action: EmulatorAction): ListCursor {
    let cursor = this.actionCursors.get(action)
    if (cursor === undefined) {
      cursor = { count: 0, retryCount: 0 }
      this.actionCursors.set(action, cursor)
    }
    return cursor
  }

  private boardCursor (board: EmulatorBoard): BoardCursor {
    let cursor = this.boardCursors.get(board)
    if (cursor === undefined) {
      cursor = { scan: 0, retryScan: 0, retryVersion: 0 }
      this.boardCursors.set(board, cursor)
    }
    return cursor
  }

  /**
   * One answer from an action block. Retries with retry_responses take the
   * next of those (always wrapping, raw bytes only); everything else takes the
   * next response, wrapping only when repeatable.
   */
  private fromAction (action: EmulatorAction, command: Packet, sequence: number, rawSequence: number, isRetry: boolean): Buffer[] {
    const cursor = this.actionCursor(action)
    if (isRetry && action.retry_responses !== undefined) {
      const list = action.retry_responses
      if (list.length === 0) return []
      const entry = list[cursor.retryCount % list.length]
      cursor.retryCount = (cursor.retryCount + 1) % list.length
      return Array.isArray(entry) ? [transformRaw(entry, sequence)] : []
    }
    const list = action.responses
    if (cursor.count >= list.length) return [] // exhausted (or empty)
    const entry = list[cursor.count]
    cursor.count++
    if (action.repeatable) cursor.count %= list.length
    if (entry === null) return []
    if (Array.isArray(entry)) return [transformRaw(entry, rawSequence)]
    return this.reply(sequence, asciiOf(entry))
  }

  private reply (sequence: number, data: Buffer): Buffer[] {
    if (data.length > MAX_DATA_LENGTH) {
      this.log.warn({ length: data.length }, 'emulator: response too long for one packet, not answering')
      return []
    }
    // as v1.2's emulator: generated answers carry board 0, device 0xFFFF, type 0xFF
    return [encodePacket({ sequence, deviceType: 0xff, boardId: 0, deviceId: 0xffff, data })]
  }

  private version (command: Packet, sequence: number, isRetry: boolean): Buffer[] {
    const board = this.boards.get(command.boardId)
    if (board === undefined) return []
    if (isRetry) {
      const list = board.retry_firmware_version
      if (list === undefined || list.length === 0) return []
      const cursor = this.boardCursor(board)
      const entry = list[cursor.retryVersion % list.length]
      cursor.retryVersion = (cursor.retryVersion + 1) % list.length
      return Array.isArray(entry) ? [transformRaw(entry, sequence)] : []
    }
    const firmware = board.firmware_version
    if (Array.isArray(firmware)) return [transformRaw(firmware, sequence)]
    return this.reply(sequence, Buffer.from(firmware, 'latin1'))
  }

  /** The generated scan answer: one packet per device, type in the type field and data. */
  private boardRecords (board: EmulatorBoard, sequence: number): Buffer[] {
    const boardId = parseInt(board.board_id, 16)
    return (board.devices ?? []).map((device) => {
      const code = deviceTypeCode(device.device_type) ?? 0xff
      return encodePacket({ sequence, deviceType: code, boardId, deviceId: parseInt(device.device_id, 16), data: Buffer.from([code]) })
    })
  }

  /** The next raw_data scan answer (wrapping), or the generated one. */
  private boardScanAnswer (board: EmulatorBoard, sequence: number, isRetry: boolean): Buffer[] {
    const cursor = this.boardCursor(board)
    if (isRetry && board.retry_raw_data !== undefined) {
      const list = board.retry_raw_data
      if (list.length === 0) return []
      const entry = list[cursor.retryScan % list.length]
      cursor.retryScan = (cursor.retryScan + 1) % list.length
      if (!Array.isArray(entry)) return []
      const packets = entry.length > 0 && !Array.isArray(entry[0]) ? [entry as RawList] : entry as RawList[]
      return packets.map((raw) => transformRaw(raw, sequence))
    }
    if (board.raw_data !== undefined) {
      const list = board.raw_data
      if (list.length === 0) return []
      const entry = list[cursor.scan % list.length]
      cursor.scan = (cursor.scan + 1) % list.length
      return Array.isArray(entry) ? entry.map((raw) => transformRaw(raw, sequence)) : []
    }
    return this.boardRecords(board, sequence)
  }

  private scanBoard (command: Packet, sequence: number, isRetry: boolean): Buffer[] {
    const board = this.boards.get(command.boardId)
    return board === undefined ? [] : this.boardScanAnswer(board, sequence, isRetry)
  }

  /**
   * Scan-all: every board answers. Scenarios from `scanall` are consumed in
   * turn: the initial attempt and then each shuffle-bit retry may name a
   * failed board, whose packets are corrupted.
   */
  private scanAll (command: Packet, sequence: number): Buffer[] {
    const failed = this.scanAllOutcome((command.boardId & BOARD_ID_BITS.shuffle) !== 0)
    const failedBoard = failed?.result === 'error' && failed.failed_board !== undefined ? parseInt(failed.failed_board, 16) : undefined
    const out: Buffer[] = []
    for (const board of this.config.boards) {
      let packets = this.boardScanAnswer(board, sequence, false)
      if (parseInt(board.board_id, 16) === failedBoard) packets = packets.map(injectError)
      out.push(...packets)
    }
    return out
  }

  private scanAllOutcome (shuffle: boolean): ScanAllResult | undefined {
    const scenarios = this.config.scanall
    if (scenarios === undefined || scenarios.length === 0) return undefined
    const index = this.scanAllIndex
    const scenario = scenarios[index]
    const advance = (): void => {
      this.scanAllIndex = (index + 1) % scenarios.length
    }
    if (!shuffle) {
      if (scenario.initial.result !== 'error') advance()
      return scenario.initial
    }
    const retries = scenario.retry ?? []
    const retryCount = this.scanAllRetryCounts.get(index) ?? 0
    const outcome = retries[retryCount]
    this.scanAllRetryCounts.set(index, retryCount + 1)
    if (retryCount + 1 >= retries.length) advance()
    return outcome
  }
}

function typesCompatible (device: DeviceConfig, typeCode: number): boolean {
  return deviceTypeName(typeCode) === device.device_type
}
