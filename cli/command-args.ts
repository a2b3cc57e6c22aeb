import { parseArgs, type ParseArgsConfig } from 'node:util'

/** A failure to report on stderr before exiting 1 (the CLI's own). */
type Fail = (message: string) => never

/**
 * A subcommand's arguments parsed strictly (unknown flags refused), with
 * positionals allowed; a parse error is reported with the usage text. One
 * place for what `opendcre emulator`, `bmc-emulator` and `redfish-emulator`
 * each did alike.
 */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>> (args: string[], options: O, usage: string, fail: Fail): ReturnType<typeof parseArgs<{ args: string[], options: O, allowPositionals: true, strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${usage}`)
  }
}
