/**
 * The IPMI commands the bridge sends, one file per network function and one
 * Pack/Unpack pair per command, each citing its section of the IPMI v2.0
 * specification (rev 1.1). Pack builds the request data (after the command
 * byte); Unpack reads the response data that IpmiRequester.request resolves
 * with (after the completion code) and throws IpmiError('protocol') when the
 * BMC answered with too few bytes.
 *
 * - common.ts: command and completion codes, the chunk size of a reader
 * - app.ts: Get Device ID (§20.1)
 * - chassis.ts: chassis status, control, identify, boot options (§28)
 * - storage-sdr.ts: the SDR repository and its reader (§33)
 * - storage-fru.ts: FRU inventory area and its reader (§34)
 * - storage-sel.ts: the System Event Log and its reader (§31)
 * - sensor.ts: Get Sensor Reading (§35.14)
 * - dcmi.ts: DCMI Get Power Reading (group extension netFn 0x2C)
 */
export * from './common.js'
export * from './app.js'
export * from './chassis.js'
export * from './storage-sdr.js'
export * from './storage-fru.js'
export * from './storage-sel.js'
export * from './sensor.js'
export * from './dcmi.js'
