// What every API version says about the snapshot an answer comes from: its validator (ETag) and whether a
// client's copy is current, and why there is no snapshot to answer from. v1 and v2 write different bodies
// around these, never different rules.

import type { SnapshotView, TransactionStore } from '../backends/store.js';

/**
 * An answer is a function of the URL and the snapshot, so the snapshot is a strong validator; its commit
 * time is part of the tag because ids start again at 1 in a lake made anew.
 */
export function snapshotTag(view: SnapshotView): string {
  return `txlake-${view.id}-${Date.parse(view.created).toString(36)}`;
}

/** RFC 9110 If-None-Match: `*`, or a list of tags compared weakly (a `W/` prefix does not matter). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const candidate = tag.trim();
    return candidate === '*' || candidate.replace(/^W\//, '') === etag;
  });
}

/** Why no snapshot answers: a lake that cannot be served is not "loading" (the reason is on /readyz). */
export function unservedReason(store: TransactionStore): string {
  return store.problem() ? 'no snapshot can be served; see /readyz' : 'no snapshot is loaded yet';
}
