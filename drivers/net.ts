import { isIP } from 'node:net'

/**
 * Whether a host name or address stays on this machine: `localhost` (and
 * names under `.localhost`, RFC 6761 §6.3), 127.0.0.0/8, ::1 (bracketed or
 * not) and IPv4-mapped loopback (::ffff:127.x.y.z). The one loopback test:
 * the listen default, the Host check, the startup warning, the LDAP/JWKS
 * URL check and the UDP transport's bind address all use it.
 */
export function isLoopbackHost (host: string): boolean {
  let name = host.toLowerCase()
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1)
  if (name.endsWith('.')) name = name.slice(0, -1)
  if (name === 'localhost' || name.endsWith('.localhost')) return true
  if (name.startsWith('::ffff:')) name = name.slice('::ffff:'.length)
  if (isIP(name) === 4) return name.startsWith('127.')
  if (isIP(name) === 6) return name === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(name) || name === '0:0:0:0:0:0:0:1'
  return false
}
