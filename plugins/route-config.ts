import type { FastifyRequest } from 'fastify'

/** A route's path parameters as the router gives them (strings, not yet validated). */
export type RouteParams = Record<string, string>

/** What a state change acts on, for the audit line: `${command} ${action}` on board/device. */
export interface StateChangeTarget { action: string, board: string, device: string }

/**
 * What a route is, declared in its options (`config`). The role check, the
 * audit log, HEAD and the metrics' command label read this, never the URL.
 */
export interface RouteDeclaration {
  /** The command's name: the metrics' command label, the audit line's command. */
  command: string
  /** Whether this request changes state: a viewer is refused it, it is audited, HEAD answers 405. */
  changesState: (params: RouteParams) => boolean
  /** The target of a state change, for the audit line (routes that can change state declare it). */
  target?: (params: RouteParams) => StateChangeTarget
  /** Answers without credentials (the health check). */
  open?: boolean
}

declare module 'fastify' {
  interface FastifyContextConfig {
    command?: string
    changesState?: (params: RouteParams) => boolean
    target?: (params: RouteParams) => StateChangeTarget
    open?: boolean
  }
}

/** A route that only reads. */
export function readOnly (command: string, extra: { open?: boolean } = {}): RouteDeclaration {
  return { command, changesState: () => false, ...extra }
}

/** The not-found handler's declaration: no route, nothing to change. */
const NOT_FOUND: RouteDeclaration = readOnly('unknown')

/** The declaration in a route's config, or undefined when it has none (or an incomplete one). */
export function declarationIn (config: Partial<RouteDeclaration> | undefined): RouteDeclaration | undefined {
  if (config === undefined || typeof config.command !== 'string' || config.command === '' || typeof config.changesState !== 'function') return undefined
  return config as RouteDeclaration
}

/** The declaration of the route a request took (the not-found handler's for no route). */
export function declarationOf (request: FastifyRequest): RouteDeclaration | undefined {
  if (request.is404) return NOT_FOUND
  return declarationIn(request.routeOptions.config)
}

/**
 * Whether a request changes state. A request whose route declares nothing
 * counts as a change (the role check fails closed); the startup check in
 * plugins/route-declarations.ts keeps any such route from being served.
 */
export function changesState (request: FastifyRequest): boolean {
  const declaration = declarationOf(request)
  if (declaration === undefined) return true
  return declaration.changesState((request.params ?? {}) as RouteParams)
}

/** A request's command as the audit line and the role check name it: 'power on' on board/device. */
export function describeRequest (request: FastifyRequest): { command: string, board?: string, device?: string } {
  const declaration = declarationOf(request)
  if (declaration === undefined) return { command: 'undeclared route' }
  if (declaration.target === undefined) return { command: declaration.command }
  const { action, board, device } = declaration.target((request.params ?? {}) as RouteParams)
  return { command: `${declaration.command} ${action}`, board, device }
}
