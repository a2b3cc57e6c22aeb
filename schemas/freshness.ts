/**
 * How old an answer is: `Age` (RFC 9111 §5.1, whole seconds since the
 * device gave the value) and `X-Reading-Timestamp` (when it did, ISO 8601
 * with milliseconds).
 */
export function freshnessHeaders (timestamp: number, now: number): Record<string, string> {
  return {
    age: String(Math.max(0, Math.floor((now - timestamp) / 1000))),
    'x-reading-timestamp': isoTime(timestamp)
  }
}

/** Reads that share a transaction, or a kept value, share its timestamp: its text is made once. */
let lastTimestamp = NaN
let lastText = ''
function isoTime (timestamp: number): string {
  if (timestamp !== lastTimestamp) {
    lastText = new Date(timestamp).toISOString()
    lastTimestamp = timestamp
  }
  return lastText
}
