// The explorer's client of API v2: the tab's API key on every request, a prompt for one when the server
// answers 401, patience while the server loads its first snapshot (503 with Retry-After), RFC 9457
// problems as errors, and v2's integers read exactly (exact-json.ts).

import { parseExactJson } from './exact-json.js';

const KEY_ITEM = 'txlake.apiKey';

/**
 * The API key of this tab (SPEC §8): sessionStorage only, so it is gone when the tab closes, and never in
 * a URL, a cookie or localStorage.
 */
export class TabKey {
  /** The key when the browser refuses session storage (a privacy mode): it lives as long as the page. */
  private inPage: string | null = null;

  get(): string | null {
    try {
      return sessionStorage.getItem(KEY_ITEM);
    } catch {
      return this.inPage;
    }
  }
  set(key: string): void {
    try {
      sessionStorage.setItem(KEY_ITEM, key);
    } catch {
      this.inPage = key;
    }
  }
  clear(): void {
    this.inPage = null;
    try {
      sessionStorage.removeItem(KEY_ITEM);
    } catch {
      // nothing stored there
    }
  }
}

/** Why the explorer asks for a key: none held, or the one held was refused. */
export type KeyRequest = 'needed' | 'refused';

/** Ask the person for a key; resolves to it, or null when they decline. */
export type KeyPrompt = (why: KeyRequest) => Promise<string | null>;

/** An answer that is not a success, in the problem's own words. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly parameter: string | null = null,
  ) {
    super(detail);
  }
}

export interface Answer<T> {
  body: T;
  /** The snapshot that answered (`X-Txlake-Snapshot`); null on answers that name none. */
  snapshot: number | null;
}

export interface ApiEvents {
  /** The server is not ready (it loads a snapshot); `message` is null once it answers again. */
  waiting(message: string | null): void;
  /** A key was accepted or dropped. */
  keyChanged(held: boolean): void;
}

/** Retries of a 503 before giving up: the first load of a large lake takes a while. */
const MAX_WAITS = 60;

export class ApiClient {
  /** One prompt at a time: requests refused together wait for the same answer. */
  private pendingPrompt: Promise<string | null> | null = null;

  constructor(
    private readonly key: TabKey,
    private readonly prompt: KeyPrompt,
    private readonly events: ApiEvents,
  ) {}

  get keyHeld(): boolean {
    return this.key.get() !== null;
  }

  forgetKey(): void {
    this.key.clear();
    this.events.keyChanged(false);
  }

  /** GET a v2 JSON resource. */
  async json<T>(path: string): Promise<Answer<T>> {
    const response = await this.fetch(path, 'application/json');
    const body = parseExactJson(await response.text()) as T;
    return { body, snapshot: snapshotOf(response) };
  }

  /** GET a download (an export) as bytes, with the same key and retry rules, and the name it came with. */
  async download(path: string): Promise<{ blob: Blob; filename: string | null }> {
    const response = await this.fetch(path, '*/*');
    const disposition = response.headers.get('content-disposition') ?? '';
    const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? null;
    return { blob: await response.blob(), filename };
  }

  private async fetch(path: string, accept: string): Promise<Response> {
    let waits = 0;
    for (;;) {
      const key = this.key.get();
      const headers: Record<string, string> = { accept };
      if (key !== null) headers.authorization = `Bearer ${key}`;
      // `no-cache`: the browser revalidates every time (an ETag makes that a 304), so a pinned answer
      // cached under one key is never shown after the key is forgotten.
      const response = await fetch(path, { headers, cache: 'no-cache', credentials: 'omit' });
      if (response.status === 401) {
        // Another request's prompt may have brought a new key while this one was on its way: use it.
        if (this.key.get() !== key) continue;
        const challenge = response.headers.get('www-authenticate') ?? '';
        const refused = key !== null && challenge.includes('invalid_token');
        if (key !== null) {
          this.key.clear();
          this.events.keyChanged(false);
        }
        const given = await this.askForKey(refused ? 'refused' : 'needed');
        if (given === null) throw await problemOf(response, 'an API key is needed to read this server');
        this.key.set(given);
        continue;
      }
      if (response.status === 503 && waits < MAX_WAITS) {
        waits += 1;
        const seconds = Math.min(Math.max(Number(response.headers.get('retry-after')) || 1, 1), 5);
        this.events.waiting(
          `The server is not ready (${await reasonOf(response)}); trying again in ${seconds} s…`,
        );
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        continue;
      }
      if (waits > 0) this.events.waiting(null);
      if (!response.ok) throw await problemOf(response, `the server answered ${response.status}`);
      if (key !== null) this.events.keyChanged(true);
      return response;
    }
  }

  private askForKey(why: KeyRequest): Promise<string | null> {
    if (this.pendingPrompt === null) {
      this.pendingPrompt = this.prompt(why).finally(() => {
        this.pendingPrompt = null;
      });
    }
    return this.pendingPrompt;
  }
}

function snapshotOf(response: Response): number | null {
  const header = response.headers.get('x-txlake-snapshot');
  return header === null ? null : Number(header);
}

/** The problem document's detail, or v1-style `{error}`, or the fallback. */
async function problemOf(response: Response, fallback: string): Promise<ApiProblem> {
  let detail = fallback;
  let parameter: string | null = null;
  try {
    const body = (await response.json()) as { detail?: unknown; error?: unknown; parameter?: unknown };
    if (typeof body.detail === 'string') detail = body.detail;
    else if (typeof body.error === 'string') detail = body.error;
    if (typeof body.parameter === 'string') parameter = body.parameter;
  } catch {
    // not JSON: keep the fallback
  }
  return new ApiProblem(response.status, detail, parameter);
}

async function reasonOf(response: Response): Promise<string> {
  return (await problemOf(response, 'it is starting')).detail;
}
