// Where the explorer is: the view, its subject and its filters, in the URL's fragment
// (`#/users/31373?from=2023-03-01&type=ReturnActivity&snapshot=4`), so a lookup can be bookmarked, shared and
// reached with Back. The fragment never reaches the server, and never holds the API key.

export type ViewName = 'users' | 'merchant-types';

export interface Route {
  view: ViewName;
  /** The user id or merchant code looked up; null on the view's empty form. */
  subject: string | null;
  /** Filters, page size and `snapshot` (time travel), named as the v2 API names them. */
  query: URLSearchParams;
  /** The fragment named no view (`#/USERS/1`, `#/5732`): the user lookup is shown, with a word. */
  unrecognized?: boolean;
}

const ROUTE = /^#?(?:\/(users|merchant-types)(?:\/([^/?]*))?)?\/?(?:\?(.*))?$/;

export function parseRoute(hash: string): Route {
  const parts = ROUTE.exec(hash);
  if (!parts) return { view: 'users', subject: null, query: new URLSearchParams(), unrecognized: true };
  const subject = parts[2] ? decodeOrKeep(parts[2]) : null;
  return {
    view: parts[1] === 'merchant-types' ? 'merchant-types' : 'users',
    subject: subject === '' ? null : subject,
    query: new URLSearchParams(parts[3] ?? ''),
  };
}

/** A fragment typed or pasted by hand may hold a broken escape (`%E0%A4`): kept as it is, then refused. */
function decodeOrKeep(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function routeHash(route: Route): string {
  const query = new URLSearchParams([...route.query].filter(([, value]) => value !== ''));
  const tail = query.size > 0 ? `?${query}` : '';
  const subject = route.subject === null ? '' : `/${encodeURIComponent(route.subject)}`;
  return `#/${route.view}${subject}${tail}`;
}

/** The same place with the snapshot changed (null: the latest). */
export function withSnapshot(route: Route, snapshot: string | null): Route {
  const query = new URLSearchParams(route.query);
  if (snapshot === null) query.delete('snapshot');
  else query.set('snapshot', snapshot);
  return { view: route.view, subject: route.subject, query };
}
