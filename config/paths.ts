import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package root (where package.json is), from the source tree or from dist/. */
function findPackageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const parent = dirname(dir)
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
}

export const packageRoot = findPackageRoot()

export const DEFAULT_EMULATOR_CONFIG = join(packageRoot, 'emulator-configs', 'simple.json')

export const DEFAULT_REDFISH_EMULATOR_CONFIG = join(packageRoot, 'emulator-configs', 'redfish-emulator.json')

export const DEFAULT_BMC_EMULATOR_CONFIG = join(packageRoot, 'emulator-configs', 'bmc-emulator.json')
