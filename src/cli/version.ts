// The package version, read once from package.json (two levels above dist/src/cli/ or src/cli/).

import { readFileSync } from 'node:fs';

let cached: string | null = null;

export function packageVersion(): string {
  if (cached === null) {
    for (const candidate of ['../../package.json', '../../../package.json']) {
      try {
        cached = (
          JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { version: string }
        ).version;
        break;
      } catch {
        // try the next layout
      }
    }
  }
  return cached ?? '0.0.0';
}
