// The examples /docs shows for API v2 are real: each is asked of a lake made from the repository's sample
// and must equal the answer byte for byte, but for snapshot ids and commit times (a lake's history decides
// them); each also validates against its own schema.

import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/backends/embedded/embedded-store.js';
import type { V2Example } from '../../src/server/api/v2/examples.js';
import { buildApp } from '../../src/server/app.js';
import { OpenApiContract, type OpenApiDocument, parseExactJson } from '../helpers/openapi-contract.js';
import { assertBuilt, ingest, REPO_ROOT, TempDirs } from '../helpers/txlake.js';

const dirs = new TempDirs();
let store: EmbeddedStore;
let app: FastifyInstance;
let doc: OpenApiDocument;

/** What may differ between two lakes holding the same rows. */
function normalized(json: string): string {
  return json.replace(/"snapshot":\d+/g, '"snapshot":0').replace(/"created":"[^"]*"/g, '"created":""');
}

interface Documented {
  where: string;
  status: number;
  media: string;
  schema: Record<string, unknown> | undefined;
  example: V2Example;
}

function documentedExamples(): Documented[] {
  const found: Documented[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    if (!template.startsWith('/api/v2/')) continue;
    for (const [method, operation] of Object.entries(item)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        for (const [media, content] of Object.entries(response.content ?? {})) {
          expect(content.example, `${template} ${status} ${media}: use named examples`).toBeUndefined();
          for (const [name, example] of Object.entries(content.examples ?? {})) {
            found.push({
              where: `${method.toUpperCase()} ${template} ${status} ${media} "${name}"`,
              status: Number(status),
              media,
              schema: content.schema,
              example: example as V2Example,
            });
          }
        }
      }
    }
  }
  return found;
}

beforeAll(async () => {
  assertBuilt();
  const lake = path.join(dirs.make('txlake-openapi-examples-'), 'lake');
  await ingest([path.join(REPO_ROOT, 'examples', 'combined_transactions.csv')], lake);
  store = await EmbeddedStore.open({ lake });
  expect(await store.refresh()).toBe(true);
  app = await buildApp({ store, version: 'examples' });
  doc = (await app.inject('/openapi.json')).json() as OpenApiDocument;
});

afterAll(async () => {
  await app?.close();
  await store?.close();
  dirs.cleanup();
});

describe('the v2 examples in /openapi.json (and so /docs)', () => {
  it('exist for every 200 media type but Parquet', () => {
    const examples = documentedExamples();
    for (const [template, item] of Object.entries(doc.paths)) {
      if (!template.startsWith('/api/v2/')) continue;
      for (const media of Object.keys(item.get?.responses['200']?.content ?? {})) {
        if (media === 'application/vnd.apache.parquet') continue;
        expect(
          examples.some((e) => e.where.startsWith(`GET ${template} 200 ${media} `)),
          `${template} ${media}`,
        ).toBe(true);
      }
    }
  });

  it('are the real answers of the sample, and validate against their schema', async () => {
    const contract = new OpenApiContract(doc);
    const examples = documentedExamples();
    expect(examples.length).toBeGreaterThanOrEqual(10);
    for (const { where, status, media, schema, example } of examples) {
      const request = example['x-txlake-request'];
      expect(request, `${where}: x-txlake-request`).toBeDefined();
      // A 200 is asked for in its own media type; a problem is what any client gets, whatever it accepts.
      const accept = request.accept ?? (status === 200 ? media : undefined);
      const answer = await app.inject({ url: request.url, headers: accept === undefined ? {} : { accept } });
      expect(answer.statusCode, where).toBe(status);
      expect(String(answer.headers['content-type']).split(';')[0], where).toBe(media);
      if (media.endsWith('json') && !media.endsWith('ndjson')) {
        expect(normalized(answer.body), where).toBe(normalized(JSON.stringify(example.value)));
        expect(contract.validate(schema ?? {}, parseExactJson(answer.body).value), where).toEqual([]);
        expect(contract.validate(schema ?? {}, example.value), where).toEqual([]);
      } else {
        expect(answer.body, where).toBe(example.value);
      }
    }
  });
});
