// Security headers of HTML pages (SPEC §5): @fastify/helmet's set with a strict Content-Security-Policy,
// registered in the scope of the pages only. JSON answers get `X-Content-Type-Options: nosniff` alone,
// from the app's own request hook: helmet builds its middleware anew on every request (its two hooks, one
// of them async, cost about 20 µs of CPU a request, a third of a v1 answer's; bench/hook-costs.ts), and its
// other headers say nothing to a client that does not render the answer.

import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** Content-Security-Policy directives as helmet takes them: names in kebab case, each a list of sources. */
export type CspDirectives = Readonly<Record<string, readonly string[]>>;

/**
 * `/docs` (Swagger UI): its scripts and styles are files of its own (no inline ones), its logo and the
 * icons of its stylesheet are data: URLs, and it fetches the OpenAPI document and "Try it out" requests
 * from this origin. Nothing else is allowed.
 */
export const DOCS_CSP: CspDirectives = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"],
};

/**
 * `/` (the web explorer, SPEC §8): scripts, styles, images and requests from this origin only, no inline
 * scripts or styles, never framed.
 */
export const EXPLORER_CSP: CspDirectives = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'"],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'manifest-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"],
};

/** Helmet's headers for HTML pages under `csp`. */
export function htmlPageHeaders(csp: CspDirectives): FastifyHelmetOptions {
  return {
    // useDefaults off: helmet's defaults add upgrade-insecure-requests, which breaks a page served over
    // plain HTTP (127.0.0.1, a LAN), and sources this policy leaves out on purpose.
    contentSecurityPolicy: { useDefaults: false, directives: csp as Record<string, string[]> },
    // txlake speaks plain HTTP: HSTS is for the proxy that terminates TLS to decide.
    strictTransportSecurity: false,
    xFrameOptions: { action: 'deny' },
  };
}

/**
 * Register helmet with `csp` in `scope`, which must be an encapsulated plugin holding the HTML routes
 * only: every route of that scope pays for helmet, no other does.
 */
export async function registerHtmlPageHeaders(scope: FastifyInstance, csp: CspDirectives): Promise<void> {
  await scope.register(helmet, htmlPageHeaders(csp));
}
