/**
 * The emulated BMC's session table kept the way a careful BMC keeps it: a
 * session not yet activated (Open Session or RAKP 2 answered, no RAKP 3)
 * holds its slot only for `setupMs`, and when the table is full the oldest
 * such session gives way to a new Open Session. Unauthenticated Open Session
 * requests (which anyone who can reach port 623 may send) can therefore
 * never keep a real console out for longer than a set-up time; active
 * sessions are never evicted.
 */

/** What the table needs of a session. */
export interface TableSession {
  state: string
  lastActivity: number
  /** A phantom session of the "session table full" fault: never evicted. */
  phantom?: boolean
}

export interface SessionTimeouts {
  /** An active session idle for this long is dropped (ms). */
  idleMs: number
  /** A session still being set up is dropped after this long (ms). */
  setupMs: number
}

/** Drops the sessions past their time; returns how many. */
export function expireSessions<S extends TableSession> (sessions: Map<number, S>, now: number, timeouts: SessionTimeouts): number {
  let expired = 0
  for (const [sid, s] of sessions) {
    const limit = s.state === 'active' ? timeouts.idleMs : Math.min(timeouts.idleMs, timeouts.setupMs)
    if (now - s.lastActivity > limit) {
      sessions.delete(sid)
      expired++
    }
  }
  return expired
}

/** Frees the slot of the oldest session not yet activated; false when every slot is an active (or phantom) session. */
export function evictOldestPending<S extends TableSession> (sessions: Map<number, S>): boolean {
  let oldest: [number, S] | undefined
  for (const entry of sessions) {
    const s = entry[1]
    if (s.state === 'active' || s.phantom === true) continue
    if (oldest === undefined || s.lastActivity < oldest[1].lastActivity) oldest = entry
  }
  if (oldest === undefined) return false
  sessions.delete(oldest[0])
  return true
}
