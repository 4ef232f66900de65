// `txlake snapshot`: the current snapshot (id, created, rows, data files relative to the lake).

import type { Command } from 'commander';
import { requireCurrentSnapshot } from '../../lake/lake-state.js';
import { LakeLayout } from '../../lake/layout.js';
import { DEFAULTS, resolveLakeDir } from '../config.js';

export function registerSnapshot(program: Command): void {
  program
    .command('snapshot')
    .description('show the current snapshot: id, created time, row count and its data files')
    .option('--lake <dir>', `lake directory (env TXLAKE_LAKE, default ${DEFAULTS.lake})`)
    .option('--json', 'print it as one JSON object')
    .action(async (flags: { lake?: string; json?: boolean }) => {
      const layout = new LakeLayout(resolveLakeDir(flags.lake));
      const manifest = (await requireCurrentSnapshot(layout)).current;
      const summary = {
        id: manifest.id,
        parent: manifest.parent,
        created: manifest.created,
        operation: manifest.operation,
        mode: manifest.mode,
        rows: manifest.rows,
        partition_by: manifest.partition_by,
        files: manifest.files.map((f) => f.path),
        daily_sums: manifest.daily_sums.path,
        sources: manifest.sources.map((s) => s.name),
      };
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...summary, file_details: manifest.files })}\n`);
        return;
      }
      const lines = [
        `snapshot ${summary.id} (parent ${summary.parent ?? 'none'}), committed ${summary.created}`,
        `${summary.rows} rows in ${summary.files.length} files, partitioned by ${summary.partition_by}`,
        ...manifest.files.map((f) => `  ${f.path}  ${f.rows} rows  ${f.bytes} bytes`),
        `daily sums: ${summary.daily_sums}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
