// A small run of each benchmark's code (not a measurement: the numbers are machine noise at this size),
// so that the benchmarks stay runnable: every server answers without errors, the swap under load is seen,
// and the report has the shape the docs describe.

import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { IngestBenchResult, ServeBenchResult, VerifyBenchResult } from '../../bench/index.js';
import { assertBuilt, REPO_ROOT, runBench, runTxlake, TempDirs } from '../helpers/txlake.js';

/** Every import line of the TypeScript files under `dir`. */
async function grepImports(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of await fs.readdir(dir, { recursive: true })) {
    if (!entry.endsWith('.ts')) continue;
    const text = await fs.readFile(path.join(dir, entry), 'utf8');
    lines.push(...text.split('\n').filter((line) => /^import|^\s*(?:await )?import\(|from '/.test(line)));
  }
  return lines;
}

const temp = new TempDirs();
afterAll(() => temp.cleanup());

describe('benchmarks (smoke runs)', () => {
  it('bench ingest times txlake against the raw COPY on the same file', async () => {
    assertBuilt();
    const run = await runBench(['ingest', '--rows', '3000', '--json', '--dir', temp.make()], {
      timeoutMs: 60_000,
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as IngestBenchResult;
    expect(result.rows).toBe(3000);
    expect(result.txlake_seconds).toBeGreaterThan(0);
    expect(result.baseline_seconds).toBeGreaterThan(0);
    expect(result.ratio).toBeCloseTo(result.txlake_seconds / result.baseline_seconds, 2);
  }, 70_000);

  it('bench verify times the checksums against a read of the same bytes, at a first load and at a swap', async () => {
    assertBuilt();
    const run = await runBench(['verify', '--rows', '3000', '--json', '--dir', temp.make()], {
      timeoutMs: 60_000,
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as VerifyBenchResult;
    expect(result).toMatchObject({ bench: 'verify', rows: 3000, files: 3 });
    expect(result.first_load.snapshot).toBe(1);
    expect(result.swap.snapshot).toBe(2);
    expect(result.first_load.verify_ms).toBeLessThanOrEqual(result.first_load.load_ms);
    expect(result.swap.verify_ms).toBeLessThanOrEqual(result.swap.load_ms);
  }, 70_000);

  it('bench serve loads the floor, the naive baseline and txlake on v1 and v2, and a swap under load', async () => {
    const run = await runBench(
      [
        'serve',
        ...['--rows', '3000', '--seconds', '1', '--connections', '4', '--servers', 'naive,txlake'],
        ...['--json', '--dir', temp.make()],
      ],
      { timeoutMs: 240_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as ServeBenchResult;
    const endpoints = ['transactions', 'netAmount', 'v2Transactions', 'v2DailyNet'];
    expect(result.floors.map((f) => f.endpoint)).toEqual(endpoints);
    for (const floor of result.floors) {
      expect(floor.typical_body_bytes).toBeGreaterThan(2);
      expect(floor.load.requests_per_second).toBeGreaterThan(0);
    }
    expect(result.variants.map((v) => v.variant)).toEqual(['naive', 'txlake']);
    for (const variant of result.variants) {
      expect(variant.ready_seconds).toBeGreaterThan(0);
      // v1's lines and v2's, each against its own floor of the same run.
      expect(variant.endpoints.map((e) => e.endpoint)).toEqual(endpoints);
      for (const endpoint of variant.endpoints) {
        expect(endpoint.load.requests_per_second, `${variant.variant} ${endpoint.endpoint}`).toBeGreaterThan(
          0,
        );
        expect(endpoint.load.errors + endpoint.load.non_2xx).toBe(0);
      }
    }
    const swap = result.variants.find((v) => v.variant === 'txlake')?.swap;
    expect(swap?.load.errors).toBe(0);
    expect(swap?.load.non_2xx).toBe(0);
    expect(swap?.visible_after_seconds, 'the appended snapshot was not served within the run').not.toBeNull();
  }, 250_000);

  it('bench serve refuses an unknown server name', async () => {
    const run = await runBench(['serve', '--servers', 'naive,fast']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      'error: --servers takes a list of naive, txlake, workers, keys; got "naive,fast"',
    );
  });

  it('is a program of its own: txlake has no bench command, and the product does not import bench/', async () => {
    const run = await runTxlake(['bench', 'serve']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'bench'");
    const imports = await grepImports(path.join(REPO_ROOT, 'src'));
    expect(imports.filter((line) => /['"](\.\.\/)+bench\//.test(line))).toEqual([]);
  });
});
