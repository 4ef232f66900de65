// Content negotiation (RFC 9110 §12.5.1): the media type an `Accept` header prefers among those a route
// can write, or null (406). A missing header accepts anything; ties go to the route's first (JSON).

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [range, ...params] = part.split(';');
    const [type, subtype] = (range ?? '').trim().toLowerCase().split('/');
    if (!type || !subtype) continue;
    let q = 1;
    for (const param of params) {
      const [name, value] = param.split('=').map((s) => s.trim());
      if (name?.toLowerCase() === 'q')
        q = /^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/.test(value ?? '') ? Number(value) : 0;
    }
    ranges.push({ type, subtype, q });
  }
  return ranges;
}

/** How specifically `range` names `type/subtype` (3 exact, 2 `type/*`, 1 `*\/*`), or 0. */
function specificity(range: MediaRange, type: string, subtype: string): number {
  if (range.type === type && range.subtype === subtype) return 3;
  if (range.type === type && range.subtype === '*') return 2;
  if (range.type === '*' && range.subtype === '*') return 1;
  return 0;
}

export function negotiate<T extends string>(header: string | undefined, offered: readonly T[]): T | null {
  if (header === undefined || header.trim() === '') return offered[0] ?? null;
  const ranges = parseAccept(header);
  let best: T | null = null;
  let bestQ = 0;
  for (const media of offered) {
    const [type = '', subtype = ''] = media.split('/');
    // The quality of a type is that of the most specific range naming it.
    let q = 0;
    let found = 0;
    for (const range of ranges) {
      const s = specificity(range, type, subtype);
      if (s > found) {
        found = s;
        q = range.q;
      }
    }
    if (q > bestQ) {
      best = media;
      bestQ = q;
    }
  }
  return best;
}
