import { Type, type TString } from '@sinclair/typebox'

/**
 * Numeric query parameters. Ajv's coercion would take '0x10' as 16, ' ' as
 * 0 and '-1e309' as -Infinity; here a number in a query is plain decimal
 * digits only (an optional fraction), checked against its documented
 * range, else 400 {"message"}.
 */
const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/

/** A query parameter that is bad input: answered 400 {"message"} by the error handler. */
export class QueryParameterError extends Error {
  readonly statusCode = 400

  constructor (message: string) {
    super(message)
    this.name = 'QueryParameterError'
  }
}

/** The schema of a non-negative decimal query parameter (a string: parsed by decimalQueryValue). */
export function DecimalQuery (options: { maximum: number, description: string }): TString {
  return Type.String({ maxLength: 32, description: `${options.description} A finite, non-negative decimal number from 0 to ${options.maximum}.` })
}

/** The value of a decimal query parameter, or a QueryParameterError naming it and its range. */
export function decimalQueryValue (text: string | undefined, name: string, maximum: number): number | undefined {
  if (text === undefined) return undefined
  const value = DECIMAL.test(text) ? Number(text) : NaN
  if (!Number.isFinite(value) || value > maximum) {
    throw new QueryParameterError(`invalid ${name}: must be a decimal number from 0 to ${maximum} (digits and an optional fraction)`)
  }
  return value
}
