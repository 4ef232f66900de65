// Checks real HTTP answers against the OpenAPI document the server publishes: the operation by path template
// and method, the response by status, the content by media type, and JSON bodies against their schema with
// ajv (JSON Schema 2020-12, OpenAPI 3.1's dialect). Bodies carry integers beyond 2^53, so they are parsed by
// a parser that keeps every integer literal an integer (JSON.parse's `context.source` is not in Node 20).

import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: under NodeNext its default import is the module object, whose `default` is the plugin.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Json = null | boolean | number | bigint | string | Json[] | { [key: string]: Json };

/**
 * A JSON text with its integers exact: `bigints: true` gives bigints beyond 2^53 (for comparing values);
 * otherwise they become the nearest double, still an integer to a validator. Any number written with a
 * fraction or an exponent is listed in `inexact` (v2 never writes one).
 */
export function parseExactJson(text: string, bigints = false): { value: Json; inexact: string[] } {
  let at = 0;
  const inexact: string[] = [];
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at ${at} in ${JSON.stringify(text.slice(Math.max(0, at - 20), at + 20))}`);
  };
  const space = () => {
    while (at < text.length && ' \t\r\n'.includes(text[at] as string)) at++;
  };
  const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
  // The closing quote is found here; JSON.parse then rejects what a JSON string may not hold (control characters).
  const STRING = /"(?:[^"\\]|\\.)*"/y;
  const value = (): Json => {
    space();
    const c = text[at];
    if (c === '{') {
      at++;
      const object: { [key: string]: Json } = {};
      space();
      if (text[at] === '}') {
        at++;
        return object;
      }
      for (;;) {
        space();
        const key = value();
        if (typeof key !== 'string') fail('expected a key');
        space();
        if (text[at++] !== ':') fail('expected :');
        if (Object.hasOwn(object, key as string)) fail(`duplicate key ${String(key)}`);
        object[key as string] = value();
        space();
        const next = text[at++];
        if (next === '}') return object;
        if (next !== ',') fail('expected , or }');
      }
    }
    if (c === '[') {
      at++;
      const array: Json[] = [];
      space();
      if (text[at] === ']') {
        at++;
        return array;
      }
      for (;;) {
        array.push(value());
        space();
        const next = text[at++];
        if (next === ']') return array;
        if (next !== ',') fail('expected , or ]');
      }
    }
    if (c === '"') {
      STRING.lastIndex = at;
      const m = STRING.exec(text);
      if (!m) return fail('bad string');
      at += m[0].length;
      return JSON.parse(m[0]) as string;
    }
    for (const [word, literal] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return literal;
      }
    }
    NUMBER.lastIndex = at;
    const m = NUMBER.exec(text);
    if (!m) return fail('unexpected character');
    at += m[0].length;
    if (m[1] !== undefined || m[2] !== undefined) {
      inexact.push(m[0]);
      return Number(m[0]);
    }
    const n = Number(m[0]);
    return bigints && !Number.isSafeInteger(n) ? BigInt(m[0]) : n;
  };
  const result = value();
  space();
  if (at !== text.length) fail('text after the value');
  return { value: result, inexact };
}

type Schema = Record<string, unknown>;

interface MediaType {
  schema?: Schema;
  example?: unknown;
  examples?: Record<string, { value?: unknown }>;
}

export interface ResponseObject {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, MediaType>;
}

export interface Operation {
  parameters?: { name: string; in: string; required?: boolean; schema?: Schema }[];
  responses: Record<string, ResponseObject>;
}

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema>; responses?: Record<string, ResponseObject> };
}

export interface Answer {
  method: string;
  /** The path and query as requested. */
  url: string;
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/** Media types whose bodies are one JSON value. */
const JSON_MEDIA = new Set(['application/json', 'application/problem+json']);

export class OpenApiContract {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly validators = new WeakMap<Schema, ValidateFunction>();
  private readonly templates: { template: string; pattern: RegExp }[];
  /** How many answers were checked, by `METHOD template status media`. */
  readonly checked = new Map<string, number>();

  /** `lineSchema`: what each NDJSON line must be (OpenAPI 3.1 has no place for it in the document). */
  constructor(
    readonly doc: OpenApiDocument,
    private readonly lineSchema?: Schema,
  ) {
    addFormats(this.ajv);
    this.templates = Object.keys(doc.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }));
  }

  get total(): number {
    let n = 0;
    for (const count of this.checked.values()) n += count;
    return n;
  }

  /** The path template a request path falls under, or null. */
  templateOf(path: string): string | null {
    return this.templates.find((t) => t.pattern.test(path))?.template ?? null;
  }

  operation(method: string, path: string): { template: string; operation: Operation } | null {
    const template = this.templateOf(path);
    const operation = template === null ? undefined : this.doc.paths[template]?.[method.toLowerCase()];
    return template === null || operation === undefined ? null : { template, operation };
  }

  /** Validate `value` against `schema`; refs into the document's components resolve as in the document. */
  validate(schema: Schema, value: unknown): string[] {
    let validator = this.validators.get(schema);
    if (validator === undefined) {
      // The wrapper's root holds the document's components, so `#/components/schemas/…` refs resolve.
      validator = this.ajv.compile({
        components: this.doc.components ?? {},
        $defs: { it: schema },
        $ref: '#/$defs/it',
      });
      this.validators.set(schema, validator);
    }
    if (validator(value)) return [];
    return (validator.errors ?? []).map(
      (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
    );
  }

  /**
   * The response object an answer must conform to. An answer no operation has (a path or a method v2 lacks)
   * must be one of the document's shared responses (`components.responses`) for its status.
   */
  responseFor(answer: Answer): { key: string; response: ResponseObject } {
    const path = answer.url.split('?')[0] ?? answer.url;
    const found = this.operation(answer.method, path);
    if (found === null) {
      const shared = Object.values(this.doc.components?.responses ?? {}).find(
        (r) => (r as ResponseObject & { 'x-status'?: number })['x-status'] === answer.status,
      );
      if (shared === undefined)
        throw new Error(
          `${describe(answer)}: no operation and no shared response for status ${answer.status}`,
        );
      return { key: `${answer.method} (no operation) ${answer.status}`, response: shared };
    }
    const response = found.operation.responses[String(answer.status)];
    if (response === undefined)
      throw new Error(`${describe(answer)}: status ${answer.status} is not documented for ${found.template}`);
    return { key: `${answer.method} ${found.template} ${answer.status}`, response };
  }

  /** Check one answer against the document; throws with the answer in the message. */
  check(answer: Answer): void {
    const { key, response } = this.responseFor(answer);
    const contentType = String(answer.headers['content-type'] ?? '');
    const media = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    if (answer.status === 304 || (answer.body === '' && response.content === undefined)) {
      if (answer.body !== '') throw new Error(`${describe(answer)}: a ${answer.status} has a body`);
      this.count(key);
      return;
    }
    const content = response.content?.[media];
    if (content === undefined) {
      throw new Error(
        `${describe(answer)}: media type "${media}" is not documented (documented: ${Object.keys(response.content ?? {}).join(', ')})`,
      );
    }
    for (const header of [
      'x-txlake-snapshot',
      'etag',
      'cache-control',
      'vary',
      'link',
      'content-disposition',
      'retry-after',
      'allow',
    ]) {
      if (answer.headers[header] !== undefined && response.headers?.[header] === undefined)
        throw new Error(`${describe(answer)}: header ${header} is sent but not documented on ${key}`);
    }
    if (JSON_MEDIA.has(media)) {
      const { value, inexact } = parseExactJson(answer.body);
      if (inexact.length > 0)
        throw new Error(`${describe(answer)}: numbers that are not integer literals: ${inexact.join(', ')}`);
      if (content.schema === undefined) throw new Error(`${describe(answer)}: no schema for ${media}`);
      const errors = this.validate(content.schema, value);
      if (errors.length > 0)
        throw new Error(`${describe(answer)}: does not validate:\n  ${errors.join('\n  ')}`);
    } else if (media === 'application/x-ndjson') {
      const item = this.lineSchema;
      const lines = answer.body.split('\n');
      if (lines.pop() !== '') throw new Error(`${describe(answer)}: NDJSON does not end with a line end`);
      if (item !== undefined) {
        for (const line of lines) {
          const errors = this.validate(item, parseExactJson(line).value);
          if (errors.length > 0)
            throw new Error(
              `${describe(answer)}: a line does not validate: ${line}\n  ${errors.join('\n  ')}`,
            );
        }
      }
    } else if (content.schema?.type === 'string' && typeof answer.body !== 'string') {
      throw new Error(`${describe(answer)}: not text`);
    }
    this.count(`${key} ${media}`);
  }

  private count(key: string): void {
    this.checked.set(key, (this.checked.get(key) ?? 0) + 1);
  }
}

function describe(answer: Answer): string {
  return `${answer.method} ${answer.url} → ${answer.status} ${String(answer.headers['content-type'] ?? '')} ${answer.body.slice(0, 300)}`;
}
