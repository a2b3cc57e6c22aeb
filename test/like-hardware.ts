import type { ChildProcess } from 'node:child_process'
import { setPriority } from 'node:os'

/**
 * Emulators run as processes of their own (the device bus's behind a PTY,
 * ipmi_sim) stand in for hardware, which answers within the service's
 * timeouts (the bus's 250 ms read) whatever the host running the service is
 * doing. On a loaded test machine they are given a higher priority (where the
 * user may: root, as in CI's container) so that the service's timeouts, not
 * the test machine's load, decide what the tests see.
 */
export function likeHardware (child: ChildProcess): void {
  if (child.pid === undefined) return
  try {
    setPriority(child.pid, -10)
  } catch {
    // not permitted (not root): the child keeps the default priority
  }
}
