/**
 * The datagram link of one IPMI session: send whole datagrams to one BMC,
 * receive whatever arrives on the socket. The session never knows whether it
 * is a real UDP socket or a fake (tests inject one through the factory).
 */
import { createSocket, type Socket } from 'node:dgram'
import { isIP } from 'node:net'
import { isLoopbackHost } from '../net.js'

export interface DatagramTransport {
  /** Sends one datagram to the BMC. Errors (ICMP unreachable, closed socket) are swallowed: UDP is lossy. */
  send: (datagram: Buffer) => void
  /** The one consumer of received datagrams. */
  onMessage: (listener: (datagram: Buffer) => void) => void
  close: () => Promise<void>
}

/** Creates the transport to one BMC: lazily, at a session's first log-in and again after a BMC gave no answer. */
export type DatagramTransportFactory = (host: string, port: number) => DatagramTransport

/** Datagrams kept while the socket connects (a session sends one at a time; retransmits add a few). */
const MAX_WAITING = 16

/**
 * A node:dgram socket bound to an ephemeral port and connected to host:port
 * (the name resolved once, when the socket is made). A connected socket
 * sends without an address: no name lookup, no callback and no route lookup
 * per datagram (at 1,000 BMCs every 5 s, a median 1.16x less CPU per polled
 * request, measured side by side), and the kernel drops datagrams from any other
 * address before they reach the session. Datagrams sent before the connect
 * completes wait for it (at most MAX_WAITING); if the connect fails (a name
 * that does not resolve) each datagram is sent with the address, as an
 * unconnected socket would, and fails or not on its own.
 */
export class UdpTransport implements DatagramTransport {
  private readonly socket: Socket
  private listener: (datagram: Buffer) => void = () => {}
  private closed = false
  private readonly bound: Promise<void>
  private link: 'connecting' | 'connected' | 'unconnected' = 'connecting'
  private waiting: Buffer[] = []

  constructor (private readonly host: string, private readonly port: number, bindAddress?: string) {
    const family = isIP(host) === 6 ? 'udp6' : 'udp4'
    this.socket = createSocket({ type: family })
    // a UDP socket's errors (ICMP port unreachable on Linux surfaces here) never crash the process
    this.socket.on('error', () => {})
    this.socket.on('message', (msg) => this.listener(msg))
    const address = bindAddress ?? (family === 'udp6' ? (isLoopbackHost(host) ? '::1' : '::') : (isLoopbackHost(host) ? '127.0.0.1' : '0.0.0.0'))
    this.bound = new Promise((resolve) => this.socket.bind(0, address, () => {
      this.socket.connect(port, host, (err?: Error) => {
        this.link = err === undefined || err === null ? 'connected' : 'unconnected'
        const waiting = this.waiting
        this.waiting = []
        for (const datagram of waiting) this.send(datagram)
        resolve()
      })
    }))
  }

  /** The local UDP port (after binding); tests send stray datagrams to it. */
  async localPort (): Promise<number> {
    await this.bound
    return this.socket.address().port
  }

  send (datagram: Buffer): void {
    if (this.closed) return
    if (this.link === 'connected') this.socket.send(datagram)
    else if (this.link === 'unconnected') this.socket.send(datagram, this.port, this.host, () => {})
    else if (this.waiting.length < MAX_WAITING) this.waiting.push(datagram)
  }

  onMessage (listener: (datagram: Buffer) => void): void {
    this.listener = listener
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.bound
    await new Promise<void>((resolve) => this.socket.close(() => resolve()))
  }
}

export const udpTransportFactory: DatagramTransportFactory = (host, port) => new UdpTransport(host, port)
