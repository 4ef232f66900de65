// Fault injection for the crash-safety tests: with TXLAKE_FAULT_INJECTION=<point>, the process kills itself
// (SIGKILL, exactly like `kill -9`) when it reaches that point of a commit; with `enospc:<point>` it fails
// there as a full disk would. Unset (always, outside tests) each point is a no-op.

export const FAULT_POINTS = [
  /** Rows read and validated into the engine, nothing written yet. */
  'validated',
  /** The first new data file is in its partition directory; others may follow. */
  'data-file-published',
  /** Every new file is written; the manifest is not. */
  'files-written',
  /** The new manifest exists; CURRENT still names the parent. */
  'manifest-written',
  /** The new CURRENT is written under a temporary name, not yet renamed into place. */
  'current-swap',
  /** CURRENT names the new snapshot (it is committed); the commit log does not list it yet. */
  'committed',
  /** Vacuum has removed its first file. */
  'vacuum-removing',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export function faultPoint(point: FaultPoint): void {
  const wanted = process.env.TXLAKE_FAULT_INJECTION;
  if (!wanted) return;
  if (wanted === point) process.kill(process.pid, 'SIGKILL');
  if (wanted === `enospc:${point}`) {
    throw Object.assign(new Error(`ENOSPC: no space left on device (injected at ${point})`), {
      code: 'ENOSPC',
    });
  }
}
