/**
 * Every v1.2 command route (below the /opendcre/1.2 prefix), as Fastify
 * spells its path: the list post.test.ts and openapi.test.ts check against.
 */
export const COMMAND_ROUTES = [
  '/test',
  '/scan',
  '/scan/:board_id',
  '/version/:board_id',
  '/read/:device_type/:board_id/:device_id',
  '/power/:board_id/:device_id',
  '/power/:first/:second/:third',
  '/power/:device_type/:board_id/:device_id/:action',
  '/asset/:board_id/:device_id',
  '/boot_target/:board_id/:device_id',
  '/boot_target/:board_id/:device_id/:target',
  '/location/:board_id',
  '/location/:board_id/:device_id',
  '/led/:board_id/:device_id',
  '/led/:board_id/:device_id/:led_state',
  '/led/:board_id/:device_id/:led_state/:led_color',
  '/fan/:board_id/:device_id',
  '/fan/:board_id/:device_id/:speed_rpm',
  '/plc_config'
] as const

/** The route a concrete path takes: same segment count, same static segments (the list has no overlaps). */
export function routeOf (path: string): string | undefined {
  const segments = path.split('/')
  return COMMAND_ROUTES.find((route) => {
    const parts = route.split('/')
    return parts.length === segments.length && parts.every((part, i) => part.startsWith(':') ? segments[i] !== '' : part === segments[i])
  })
}

/** /read/:device_type/... as OpenAPI spells it: /read/{device_type}/... */
export function openApiPath (route: string): string {
  return route.replace(/:([a-z_]+)/g, '{$1}')
}

export interface ExpectedChange { command: string, board: string, device: string }

const POWER_ACTIONS = new Set(['on', 'off', 'cycle', 'status'])

/**
 * The tests' own statement of which requests change state and what the
 * audit line says about them, written apart from the routes' declarations
 * (routes/declaration.ts) so the two check each other. route: one of
 * COMMAND_ROUTES; undefined: a read.
 */
export function expectedChange (route: string, params: Record<string, string>): ExpectedChange | undefined {
  switch (route) {
    case '/power/:first/:second/:third': {
      const deprecated = POWER_ACTIONS.has(params.first.toLowerCase())
      const action = (deprecated ? params.first : params.third).toLowerCase()
      if (action === 'status') return undefined
      return { command: `power ${action}`, board: deprecated ? params.second : params.first, device: deprecated ? params.third : params.second }
    }
    case '/power/:device_type/:board_id/:device_id/:action':
      if (params.action.toLowerCase() === 'status') return undefined
      return { command: `power ${params.action.toLowerCase()}`, board: params.board_id, device: params.device_id }
    case '/led/:board_id/:device_id/:led_state':
    case '/led/:board_id/:device_id/:led_state/:led_color':
      return { command: `led ${params.led_state}`, board: params.board_id, device: params.device_id }
    case '/fan/:board_id/:device_id/:speed_rpm':
      return { command: `fan ${params.speed_rpm}`, board: params.board_id, device: params.device_id }
    case '/boot_target/:board_id/:device_id/:target':
      return { command: `boot_target ${params.target}`, board: params.board_id, device: params.device_id }
    default:
      return undefined
  }
}

/** The params a concrete path gives its route (undefined: no route, or a segment that is not valid percent-encoding). */
export function paramsOf (path: string): { route: string, params: Record<string, string> } | undefined {
  const route = routeOf(path)
  if (route === undefined) return undefined
  const names = route.split('/')
  const values = path.split('/')
  const params: Record<string, string> = {}
  for (let i = 0; i < names.length; i++) {
    if (!names[i].startsWith(':')) continue
    try {
      params[names[i].slice(1)] = decodeURIComponent(values[i])
    } catch {
      return undefined
    }
  }
  return { route, params }
}

/** The state change a concrete path (below the prefix) asks for, per expectedChange; undefined for a read or no route. */
export function expectedChangeOf (path: string): ExpectedChange | undefined {
  const found = paramsOf(path.replace(/[?#].*$/, ''))
  return found === undefined ? undefined : expectedChange(found.route, found.params)
}
