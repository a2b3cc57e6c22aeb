/**
 * IPMI over LAN, the codec: pure encode/decode functions, no state and no
 * sockets. The client session (../session.ts) and the BMC emulator
 * (drivers/bmc-emulator) own those, and both use these functions. Section
 * numbers are those of the IPMI v2.0 specification (rev. 1.1; the SHA-256
 * algorithms and cipher suite 17 come from its errata 4 / markup E4 to
 * §13.28 and table 22-20). One file per layer, outermost first:
 *
 * - framing.ts: the RMCP header and ASF presence ping / pong (§13.1, §13.2)
 * - session-wrapper.ts: the IPMI v1.5 and v2.0 RMCP+ session wrappers (§13.6)
 * - lan-message.ts: the IPMI LAN message and its checksums (§13.8)
 * - session-setup.ts: Open Session and RAKP 1-4 (§13.17-§13.23)
 * - crypto.ts: AES-CBC-128, the integrity AuthCode, RAKP auth codes and key derivation (§13.28-§13.32)
 * - cipher-suites.ts: algorithm numbers, the suites the bridge speaks, Get Channel Cipher Suites (§22.15)
 * - session-commands.ts: Get Channel Authentication Capabilities and the App command numbers a session uses (§22.13)
 *
 * Every decoder throws IpmiError('protocol', ...) on bytes that cannot be what
 * it decodes; the session counts them as garbage and carries on.
 */
export * from './framing.js'
export * from './session-wrapper.js'
export * from './lan-message.js'
export * from './session-setup.js'
export * from './crypto.js'
export * from './cipher-suites.js'
export * from './session-commands.js'
