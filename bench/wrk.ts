// The load generator of `bench serve`: wrk (Debian's `wrk`, C, its own threads) when it is installed,
// else autocannon (Node, on the same cores as the server, so its ceiling is lower: ~24k req/s here
// against wrk's ~37k for the same bare node:http floor, docs/performance.md). Both rotate over the same
// paths, on 127.0.0.1 only; TXLAKE_BENCH_LOAD=autocannon|wrk picks one.

import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface LoadResult {
  requests_per_second: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non_2xx: number;
}

/** The wrk binary on PATH, or null. */
export function wrkPath(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'wrk');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export type LoadGenerator = 'wrk' | 'autocannon';

export function chosenLoadGenerator(): LoadGenerator {
  const wanted = process.env.TXLAKE_BENCH_LOAD;
  if (wanted === 'autocannon') return 'autocannon';
  if (wanted === 'wrk' && wrkPath() === null) {
    throw new Error('TXLAKE_BENCH_LOAD=wrk but wrk is not installed: apt-get install -y wrk');
  }
  return wrkPath() === null ? 'autocannon' : 'wrk';
}

const luaString = (text: string) => `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** One wrk run (`-t1 -cN -dSs --latency`) rotating over `paths`; the numbers from its Lua `done` hook. */
export async function wrkLoad(
  port: number,
  paths: readonly string[],
  seconds: number,
  connections: number,
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-wrk-'));
  try {
    const script = path.join(dir, 'paths.lua');
    const headerLines = Object.entries(headers)
      .map(([name, value]) => `[${luaString(name)}] = ${luaString(value)}`)
      .join(', ');
    await fs.writeFile(
      script,
      [
        `local paths = {${paths.map(luaString).join(',\n')}}`,
        `local headers = {${headerLines}}`,
        'local i = 0',
        'request = function()',
        '  i = i + 1',
        '  return wrk.format("GET", paths[(i % #paths) + 1], headers)',
        'end',
        'done = function(summary, latency, requests)',
        '  local e = summary.errors',
        '  io.write(string.format("TXLAKE-WRK %d %d %d %d %.3f %.3f\\n", summary.requests, summary.duration,',
        '    e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))',
        'end',
        '',
      ].join('\n'),
    );
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        wrkPath() ?? 'wrk',
        [
          '-t1',
          `-c${connections}`,
          `-d${seconds}s`,
          '--timeout',
          '5s',
          '-s',
          script,
          `http://127.0.0.1:${port}`,
        ],
        { timeout: (seconds + 30) * 1000, maxBuffer: 1 << 20 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`wrk failed: ${stderr || error.message}`)) : resolve(stdout),
      );
    });
    const line = /TXLAKE-WRK (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)/.exec(output);
    if (!line) throw new Error(`wrk printed no summary:\n${output}`);
    const [, requests, durationUs, errors, status, p50, p99] = line.map(Number) as number[];
    return {
      requests_per_second: Math.round((requests as number) / ((durationUs as number) / 1e6)),
      p50_ms: p50 as number,
      p99_ms: p99 as number,
      errors: errors as number,
      non_2xx: status as number,
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
