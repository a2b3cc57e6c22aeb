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
