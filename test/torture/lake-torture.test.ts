// The lake torture test (harness.ts): seeded random writes, damage and kills, every invariant checked after
// every step. `npm test` runs two seeds of 200 steps; `npm run torture` ten seeds of 1,000. Environment:
// TXLAKE_TORTURE_STEPS, TXLAKE_TORTURE_SEEDS (how many), TXLAKE_TORTURE_FIRST_SEED, and
// TXLAKE_TORTURE_SEED to replay one seed (the failure message says which, and how many steps).

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/txlake.js';
import { runTorture } from './harness.js';

const env = process.env;
const STEPS = Number(env.TXLAKE_TORTURE_STEPS ?? 200);
const FIRST_SEED = Number(env.TXLAKE_TORTURE_FIRST_SEED ?? 20261202);
const SEEDS = env.TXLAKE_TORTURE_SEED
  ? [Number(env.TXLAKE_TORTURE_SEED)]
  : Array.from({ length: Number(env.TXLAKE_TORTURE_SEEDS ?? 2) }, (_, i) => FIRST_SEED + i);

let dir: string;
beforeAll(async () => {
  assertBuilt(); // killed writers are real `./bin/txlake` processes
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-torture-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('the lake under torture', () => {
  it.each(SEEDS)(
    `seed %i: ${STEPS} steps of writes, damage and kills keep every invariant`,
    async (seed) => {
      const report = await runTorture({ seed, steps: STEPS, dir: path.join(dir, String(seed)) });
      process.stdout.write(`lake torture ${JSON.stringify(report)}\n`);
      expect(report.steps).toBe(STEPS);
      for (const invariant of ['I1', 'I2', 'I3', 'I4', 'I5', 'I6']) {
        expect(
          Object.keys(report.checks).some((k) => k.startsWith(invariant)),
          invariant,
        ).toBe(true);
      }
    },
    STEPS * 3000 + 60_000,
  );
});
