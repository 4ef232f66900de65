// The web explorer (SPEC §8): a small app over API v2, served by txlake itself at `/`. The view and its
// filters live in the URL's fragment (route.ts); the API key in the tab's sessionStorage (api.ts).

import 'uplot/dist/uPlot.min.css';
import './explorer.css';
import { ApiClient, type KeyRequest, TabKey } from './api.js';
import { byId, showProblem } from './dom.js';
import { moneyFormat } from './format.js';
import { parseRoute, type Route, routeHash, withSnapshot } from './route.js';
import { SnapshotBar } from './snapshot-bar.js';
import { MerchantView } from './views/merchant-view.js';
import { UserView, type ViewContext } from './views/user-view.js';

/** Exact 64-bit integers need JSON.parse's source text (exact-json.ts); say so rather than round. */
function exactNumbersSupported(): boolean {
  let seen = false;
  JSON.parse('1', ((_key: string, value: unknown, context?: { source?: string }) => {
    seen = context?.source === '1';
    return value;
  }) as (key: string, value: unknown) => unknown);
  return seen;
}

function keyPrompt(): (why: KeyRequest) => Promise<string | null> {
  const dialog = byId('key-dialog', HTMLDialogElement);
  const form = byId('key-form', HTMLFormElement);
  const input = form.elements.namedItem('key') as HTMLInputElement;
  const message = byId('key-message', HTMLElement);
  const cancel = byId('key-cancel', HTMLButtonElement);
  const asking = [...message.childNodes].map((node) => node.cloneNode(true));
  return (why) =>
    new Promise((resolve) => {
      if (why === 'refused')
        message.textContent = 'That key was refused: it is unknown or was revoked. Enter another one.';
      else message.replaceChildren(...asking.map((node) => node.cloneNode(true)));
      message.classList.toggle('refused', why === 'refused');
      input.value = '';
      const finish = (key: string | null) => {
        form.onsubmit = null;
        cancel.onclick = null;
        dialog.oncancel = null;
        dialog.close();
        resolve(key);
      };
      form.onsubmit = (event) => {
        event.preventDefault();
        const key = input.value.trim();
        // A header carries visible ASCII only: anything else cannot be a key, and fetch would throw on it.
        if (!/^[\x21-\x7e]+$/.test(key)) {
          message.textContent =
            'An API key is made of letters, digits, “_” and “-” only (it starts with txl_).';
          message.classList.add('refused');
          input.select();
          return;
        }
        finish(key);
      };
      cancel.onclick = () => finish(null);
      dialog.oncancel = (event) => {
        event.preventDefault(); // Escape: the same as Cancel
        finish(null);
      };
      dialog.showModal();
      input.focus();
    });
}

function start(): void {
  const unsupported = byId('unsupported', HTMLElement);
  if (!exactNumbersSupported()) {
    showProblem(
      unsupported,
      'This browser cannot read 64-bit amounts exactly (it lacks JSON.parse source text access: Chrome 114, ' +
        'Firefox 135, Safari 18.4 or newer have it). Amounts beyond 2^53 cents are refused rather than rounded.',
    );
  }
  const notice = byId('notice', HTMLElement);
  const forget = byId('forget-key', HTMLButtonElement);
  const api = new ApiClient(new TabKey(), keyPrompt(), {
    waiting: (message) => showProblem(notice, message),
    keyChanged: (held) => {
      forget.hidden = !held;
    },
  });
  forget.hidden = !api.keyHeld;

  let route: Route = parseRoute(location.hash);
  let listingFailed = false;
  const navigate = (next: Route) => {
    const hash = routeHash(next);
    if (hash === location.hash)
      show(next); // the same lookup again: answer it again
    else location.hash = hash;
  };
  const bar = new SnapshotBar(
    api,
    byId('snapshot-select', HTMLSelectElement),
    byId('answered-by', HTMLOutputElement),
    (snapshot) => navigate(withSnapshot(route, snapshot)),
    () => {
      if (listingFailed) showProblem(notice, null);
      listingFailed = false;
    },
  );
  const context: ViewContext = {
    api,
    money: moneyFormat(),
    navigate,
    // Only the view on screen speaks: a late answer of the view just left must not relabel this one's.
    answered: (view, snapshot, pinned) => {
      if (view === route.view) bar.answered(snapshot, pinned);
    },
  };
  const views = { users: new UserView(context), 'merchant-types': new MerchantView(context) };
  const links = {
    users: byId('nav-users', HTMLAnchorElement),
    'merchant-types': byId('nav-merchants', HTMLAnchorElement),
  };

  function show(next: Route): void {
    route = next;
    for (const [name, view] of Object.entries(views)) view.element.hidden = name !== next.view;
    for (const [name, link] of Object.entries(links)) {
      if (name === next.view) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    // The other view's link keeps the snapshot chosen (time travel applies to every view).
    const snapshot = next.query.get('snapshot');
    for (const [name, link] of Object.entries(links)) {
      link.href = routeHash(
        withSnapshot({ view: name as Route['view'], subject: null, query: new URLSearchParams() }, snapshot),
      );
    }
    bar.choose(snapshot);
    if (next.unrecognized)
      showProblem(notice, 'This address names no view of the explorer; here is the user lookup.');
    else if (!listingFailed) showProblem(notice, null);
    document.title = next.subject === null ? 'txlake explorer' : `${next.subject} · txlake explorer`;
    views[next.view].show(next);
  }

  forget.addEventListener('click', () => {
    api.forgetKey();
    show(route); // asks again
    void listSnapshots();
  });
  window.addEventListener('hashchange', () => show(parseRoute(location.hash)));
  show(route);
  const listSnapshots = () =>
    bar.refresh().catch((error: unknown) => {
      listingFailed = true;
      showProblem(
        notice,
        `The snapshots could not be listed: ${error instanceof Error ? error.message : error}`,
      );
    });
  void listSnapshots();
}

start();
