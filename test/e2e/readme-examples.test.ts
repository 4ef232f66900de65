// The README's examples are real: what `npm start` prints, the transcripts of `txlake ingest` on the
// repository's sample, and every `curl` answer and API table answer, checked against a server on that sample.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../helpers/server.js';
import { assertBuilt, ingest, REPO_ROOT, runProgram, TempDirs } from '../helpers/txlake.js';

const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const SAMPLE = 'examples/combined_transactions.csv';
/** The README's examples talk to the default address; the tests' servers listen on a free port. */
const README_BASE = 'http://127.0.0.1:3025';

/** The text under `heading` (any level), up to the next heading of the same or a higher level. */
function section(markdown: string, heading: string): string {
  const out: string[] = [];
  let level = 0;
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const match = inFence ? null : /^(#+) (.*)$/.exec(line);
    if (match?.[1] && level === 0 && match[2] === heading) {
      level = match[1].length;
      continue;
    }
    if (match?.[1] && level > 0 && match[1].length <= level) break;
    if (level > 0) out.push(line);
  }
  if (level === 0) throw new Error(`README.md has no section "${heading}"`);
  return out.join('\n');
}

interface CodeBlock {
  lang: string;
  lines: string[];
}

function codeBlocks(text: string): CodeBlock[] {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1] ?? '',
    lines: (m[2] ?? '').replace(/\n$/, '').split('\n'),
  }));
}

interface Step {
  command: string;
  output: string[];
}

/** A `$ command` / output transcript; a command ending in `<<'EOF'` runs up to its `EOF` line. */
function transcript(block: CodeBlock): Step[] {
  const steps: Step[] = [];
  const { lines } = block;
  for (let i = 0; i < lines.length; ) {
    const line = lines[i++] ?? '';
    const last = steps.at(-1);
    if (!line.startsWith('$ ')) {
      if (!last) throw new Error(`README.md transcript starts with output: ${line}`);
      last.output.push(line);
      continue;
    }
    const command = [line.slice(2)];
    const terminator = /<<'?(\w+)'?$/.exec(line)?.[1];
    if (terminator) {
      while (i < lines.length && lines[i] !== terminator) command.push(lines[i++] ?? '');
      command.push(lines[i++] ?? '');
    }
    steps.push({ command: command.join('\n'), output: [] });
  }
  return steps;
}

const isTranscript = (block: CodeBlock) => block.lang === 'sh' && block.lines[0]?.startsWith('$ ');

interface CurlExample {
  path: string;
  /** Headers the command sends (`-H 'Name: value'`). */
  headers: Record<string, string>;
  /** What the README shows after the command, or null when it shows none. */
  shown: string | null;
}

/** Every `curl URL` line (with or without `$ `) and the answer shown under a `$ curl`. */
function curlExamples(text: string): CurlExample[] {
  const examples: CurlExample[] = [];
  for (const block of codeBlocks(text)) {
    for (const [index, line] of block.lines.entries()) {
      if (!/^(\$ )?curl\b/.test(line)) continue;
      // `curl [-H 'Name: value']… URL`, the URL bare or in single quotes (a query with `&`).
      const parsed = /^(?:\$ )?curl((?: -H '[^']*')*) '?([^' ]+)'?$/.exec(line);
      const url = parsed?.[2];
      const headers = Object.fromEntries(
        [...(parsed?.[1] ?? '').matchAll(/-H '([^:]+): ([^']*)'/g)].map((h) => [
          h[1] as string,
          h[2] as string,
        ]),
      );
      if (!url?.startsWith(`${README_BASE}/`)) {
        throw new Error(
          `README.md: \`${line}\` is not a plain \`curl ${README_BASE}/…\`; teach this test to run it`,
        );
      }
      const answer: string[] = [];
      if (line.startsWith('$ ')) {
        for (const next of block.lines.slice(index + 1)) {
          if (next.startsWith('$ ')) break;
          answer.push(next);
        }
      }
      examples.push({
        path: url.slice(README_BASE.length),
        headers,
        shown: answer.length > 0 ? answer.join('\n') : null,
      });
    }
  }
  return examples;
}

interface TableExample {
  path: string;
  status: number;
  body: string | null;
}

/** Table rows whose first cell names a path (`/…`) and whose second opens with `` `STATUS [BODY]` ``. */
function tableExamples(text: string): TableExample[] {
  const examples: TableExample[] = [];
  for (const line of text.split('\n')) {
    const [request, answer] = line.replace(/^\|\s*|\s*\|$/g, '').split(/\s\|\s/);
    const named = /`(\/[^`]*)`/.exec(request ?? '')?.[1];
    const shown = /^`(\d{3})(?: ([^`]*))?`/.exec(answer ?? '');
    if (!line.startsWith('|') || !named || !shown) continue;
    // The edge-case table names v1 paths short: `/transactions/…` is `/api/v1/data/transactions/…`.
    const full = /^\/(transactions|netAmount)\//.test(named) ? `/api/v1/data${named}` : named;
    examples.push({ path: full, status: Number(shown[1]), body: shown[2] ?? null });
  }
  return examples;
}

const temp = new TempDirs();
afterAll(() => temp.cleanup());
beforeAll(() => assertBuilt());

describe('README.md examples', () => {
  it('names only files under examples/ that exist', () => {
    const named = new Set([...README.matchAll(/(?<![\w/.-])examples\/[\w./-]*\w/g)].map((m) => m[0]));
    expect([...named]).toContain(SAMPLE);
    for (const file of named) expect(existsSync(path.join(REPO_ROOT, file)), file).toBe(true);
  });

  it('shows what `npm start` prints, and its URLs answer with data', async () => {
    const printed = codeBlocks(section(README, 'Quick start')).find((b) =>
      b.lines.some((l) => l.startsWith('txlake is serving')),
    );
    if (!printed) throw new Error('the Quick start shows no `txlake is serving` output');
    const lake = path.join(temp.make('txlake-readme-start-'), 'lake');
    const server = await startServer(lake, { command: 'start', readyTimeoutMs: 90_000 });
    try {
      const expected = printed.lines
        .join('\n')
        .replaceAll('/…/txlake/lake', lake)
        .replaceAll(README_BASE, `http://127.0.0.1:${server.port}`);
      expect(server.stderr()).toContain(expected);
      for (const { path: url } of curlExamples(section(README, 'Quick start').replace(/^ +/gm, ''))) {
        const response = await server.get(url);
        expect(response.status, url).toBe(200);
        expect(JSON.parse(response.body).length, url).toBeGreaterThan(0);
      }
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('its ingest transcripts print what it shows', async () => {
    // Lakes and scratch files go to a directory of this test instead of ./sample-lake and /tmp/demo.
    const sandbox = temp.make('txlake-readme-ingest-');
    const places: [string, string][] = [
      ['/tmp/demo', path.join(sandbox, 'demo')],
      ['sample-lake', path.join(sandbox, 'sample-lake')],
    ];
    const toSandbox = (text: string) => places.reduce((t, [shown, real]) => t.replaceAll(shown, real), text);
    const fromSandbox = (text: string) =>
      places.reduce((t, [shown, real]) => t.replaceAll(real, shown), text);
    // What differs per run: times, write ids in file names. A line that starts with a space continues the
    // line above (the README wraps the one-line `--json` object).
    const stable = (text: string) =>
      text
        .replace(/\n +/g, '')
        .replace(/ in \d+\.\d+ s$/gm, ' in … s')
        .replace(/\d{8}T\d{6}-[0-9a-f]{8}/g, '<write id>')
        .replace(/"phases":\{[^}]*\}/g, '"phases":{…}')
        .replace(/"seconds":[\d.]+/g, '"seconds":…')
        .trimEnd();

    // Transcripts of curl are the server's, checked below; the rest run here, in order.
    const isCurl = (step: Step) => /^curl\b/.test(step.command);
    const transcripts = [
      ...codeBlocks(section(README, 'Try the real sample')),
      ...codeBlocks(section(README, 'Ingest')),
    ]
      .filter(isTranscript)
      .map(transcript);
    for (const steps of transcripts) {
      if (steps.some(isCurl) && !steps.every(isCurl)) {
        throw new Error(`a README.md transcript mixes curl with other commands: ${steps[0]?.command}`);
      }
    }
    const steps = transcripts.filter((t) => !t.some(isCurl)).flat();
    expect(
      steps.map((s) => s.command).filter((c) => c.startsWith('./bin/txlake ingest')).length,
    ).toBeGreaterThan(3);
    for (const step of steps) {
      const result = await runProgram('bash', ['-c', `exec 2>&1\n${toSandbox(step.command)}`]);
      const what = `$ ${step.command}`;
      expect(stable(fromSandbox(result.stdout)), what).toBe(stable(step.output.join('\n')));
      expect(result.code, `${what}\n${result.stdout}`).toBe(0);
    }
  });

  describe('HTTP answers on the real sample', () => {
    let server: RunningServer | undefined;
    beforeAll(async () => {
      const lake = path.join(temp.make('txlake-readme-http-'), 'lake');
      await ingest([SAMPLE], lake);
      server = await startServer(lake);
    });
    afterAll(async () => {
      await server?.stop();
    });
    const live = () => {
      if (!server) throw new Error('the server did not start');
      return server;
    };
    const api = `${section(README, 'Try the real sample')}\n${section(README, 'The HTTP API')}`;

    it('every curl answers what the README shows (up to its …)', async () => {
      const examples = curlExamples(api);
      const paths = examples.map((e) => e.path);
      expect(paths).toContain('/api/v1/data/transactions/31373');
      expect(paths).toContain('/api/v1/data/netAmount/5732');
      for (const { path: url, headers, shown } of examples) {
        const response = await live().get(url, headers);
        if (shown === null) {
          expect(response.status, url).toBe(200);
          continue;
        }
        const [head = '', ...rest] = shown.split('…');
        if (rest.length === 0) {
          expect(response.body, url).toBe(shown);
          continue;
        }
        expect(head, `${url}: the README shows nothing before its …`).not.toBe('');
        expect(response.body.startsWith(head), `${url} answers\n${response.body}\nnot\n${head}…`).toBe(true);
        const tail = rest.at(-1) ?? '';
        expect(response.body.endsWith(tail), `${url} answers\n${response.body}\nnot …${tail}`).toBe(true);
      }
    });

    it("the API tables' answers are real", async () => {
      const examples = tableExamples(section(README, 'The HTTP API'));
      expect(examples.map((e) => e.path)).toEqual(
        expect.arrayContaining(['/api/v1/data/transactions/424242', '/healthz', '/readyz']),
      );
      for (const { path: url, status, body } of examples) {
        const response = await live().get(url);
        expect(response.status, url).toBe(status);
        if (body !== null) expect(response.body, url).toBe(body);
      }
    });
  });
});
