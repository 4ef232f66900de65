// The 405 plugin on its own, on routes other than the app's: what `Allow` lists and when the routes are made.

import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
import { methodNotAllowedPlugin } from '../../src/server/plugins/method-not-allowed.js';

async function appWith(routes: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const app = Fastify();
  onTestFinished(() => app.close());
  await app.register(methodNotAllowedPlugin, { routes });
  return app;
}

describe('methodNotAllowedPlugin', () => {
  it('leaves a method to a route registered after the URL was first seen, and lists it in Allow', async () => {
    const app = await appWith(async (guarded) => {
      guarded.get('/thing', async () => 'got');
      await guarded.register(async (later) => {
        later.post('/thing', async () => 'posted');
      });
    });
    expect((await app.inject({ method: 'POST', url: '/thing' })).body).toBe('posted');
    const put = await app.inject({ method: 'PUT', url: '/thing' });
    expect(put.statusCode).toBe(405);
    expect(put.headers.allow).toBe('GET, HEAD, OPTIONS, POST');
    expect(put.json()).toEqual({ error: 'method PUT is not allowed on /thing; use GET or POST' });
  });

  it('guards a URL without GET too, and keeps a route of its own for OPTIONS', async () => {
    const app = await appWith(async (guarded) => {
      guarded.post('/submit', async () => 'posted');
      guarded.options('/submit', async (_request, reply) => reply.code(204).send());
    });
    const get = await app.inject('/submit');
    expect(get.statusCode).toBe(405);
    expect(get.headers.allow).toBe('OPTIONS, POST');
    expect(get.json()).toEqual({ error: 'method GET is not allowed on /submit; use POST' });
    expect((await app.inject({ method: 'OPTIONS', url: '/submit' })).statusCode).toBe(204);
  });

  it('answers 405 with the path only, not the query string', async () => {
    const app = await appWith(async (guarded) => {
      guarded.get('/items/:id', async () => 'got');
    });
    const answer = await app.inject({ method: 'DELETE', url: '/items/3?force=1' });
    expect(answer.json()).toEqual({ error: 'method DELETE is not allowed on /items/3; use GET' });
  });

  it('does not guard routes registered after the plugin', async () => {
    const app = await appWith(async () => {});
    app.get('/late', async () => 'got');
    expect((await app.inject({ method: 'POST', url: '/late' })).statusCode).toBe(404);
  });
});
