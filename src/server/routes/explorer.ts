// The web explorer (SPEC §8) at `/`: the page built into dist/explorer/ by `npm run build`
// (scripts/build-explorer.mjs), its script and stylesheet under /explorer/. @fastify/static sends the
// files (their gzip or brotli copies when the browser takes them), all in a scope of their own with
// helmet's headers and the explorer's strict Content-Security-Policy: no inline script or style, nothing
// from another origin. The page holds no data: it and its assets are open, and every API request it
// makes carries the tab's key.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { EXPLORER_CSP, registerHtmlPageHeaders } from '../plugins/security-headers.js';

/** dist/explorer/, beside dist/src/ (this file is dist/src/server/routes/explorer.js once built). */
export const EXPLORER_BUILD_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../explorer',
);

/** Where the explorer's assets are served; with `/`, the paths that need no API key. */
export const EXPLORER_ASSET_PREFIX = '/explorer/';

export interface ExplorerOptions {
  /** The built explorer (default EXPLORER_BUILD_DIR); tests point it elsewhere. */
  dir?: string;
}

export async function explorerRoutes(app: FastifyInstance, options: ExplorerOptions): Promise<void> {
  const dir = options.dir ?? EXPLORER_BUILD_DIR;
  if (!existsSync(path.join(dir, 'index.html'))) {
    app.log.warn({ dir }, 'the web explorer is not built (run `npm run build`); / answers 404');
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply
        .code(404)
        .send({ error: 'the web explorer is not built: run `npm run build` where txlake is installed' }),
    );
    return;
  }
  await registerHtmlPageHeaders(app, EXPLORER_CSP);
  await app.register(fastifyStatic, {
    root: dir,
    prefix: EXPLORER_ASSET_PREFIX,
    index: false,
    preCompressed: true,
    // The assets' names hold their content's hash: a browser keeps them for a year.
    maxAge: '365d',
    immutable: true,
    schemaHide: true,
    logLevel: 'warn',
    // The page is `/` (revalidated on each visit): under /explorer/ it would be cached for a year.
    allowedPath: (pathName) => !pathName.startsWith('/index.html'),
  });
  // The page itself is checked on every visit, so a new build (new asset names) shows at once.
  app.get('/', { schema: { hide: true } }, (_request, reply) =>
    reply
      .header('cache-control', 'no-cache')
      .sendFile('index.html', { maxAge: 0, immutable: false, cacheControl: false }),
  );
}
