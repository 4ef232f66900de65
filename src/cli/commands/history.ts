// `txlake snapshots`, `rollback ID`, `verify` and `vacuum`: the lake's history, integrity and upkeep.

import type { Command } from 'commander';
import { TxlakeError } from '../../domain/errors.js';
import { LakeLayout } from '../../lake/layout.js';
import { readCurrentSnapshot } from '../../lake/snapshots.js';
import { DEFAULTS, resolveLakeDir } from '../config.js';
import { parseIntegerFlag } from '../flags.js';
import { printNotice } from '../notices.js';

const LAKE_HELP = `lake directory (env TXLAKE_LAKE, default ${DEFAULTS.lake})`;

/** The engine is loaded on use, so that `--help` stays fast. */
async function withEngine<T>(
  work: (engine: import('../../lake/engine.js').Engine) => Promise<T>,
): Promise<T> {
  return (await import('../../lake/engine.js')).withEngine(work);
}

export function registerHistory(program: Command): void {
  program
    .command('snapshots')
    .description('list every snapshot of the lake, oldest first (* marks the current one)')
    .option('--lake <dir>', LAKE_HELP)
    .option('--json', 'print a JSON array')
    .action(async (flags: { lake?: string; json?: boolean }) => {
      const { listSnapshots } = await import('../../lake/history.js');
      const snapshots = await listSnapshots(new LakeLayout(resolveLakeDir(flags.lake)));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(snapshots)}\n`);
        return;
      }
      if (snapshots.length === 0) {
        process.stdout.write('no snapshots yet; run `txlake ingest FILE` first\n');
        return;
      }
      for (const s of snapshots) {
        const what =
          s.operation === 'rollback'
            ? `rollback to ${s.restores}`
            : s.operation === 'delete-user'
              ? `erase user ${s.erased_user}`
              : `${s.operation} (${s.mode})`;
        process.stdout.write(
          `${s.current ? '*' : ' '} ${String(s.id).padStart(4)}  ${s.created}  ${what.padEnd(18)} ` +
            `${String(s.rows).padStart(12)} rows  ${s.files} files\n`,
        );
      }
    });

  program
    .command('rollback')
    .description('make an earlier snapshot current again, as a new snapshot (history is never rewritten)')
    .argument('<id>', 'the snapshot to restore (see `txlake snapshots`)')
    .option('--lake <dir>', LAKE_HELP)
    .action(async (idText: string, flags: { lake?: string }) => {
      const id = parseIntegerFlag('snapshot id', idText, 1, Number.MAX_SAFE_INTEGER);
      const { rollbackTo } = await import('../../lake/history.js');
      const manifest = await withEngine((engine) =>
        rollbackTo(new LakeLayout(resolveLakeDir(flags.lake)), id, engine, printNotice),
      );
      process.stdout.write(
        `snapshot ${manifest.id} restores snapshot ${id} (${manifest.rows} rows) and is now current\n`,
      );
    });

  program
    .command('verify')
    .description('check that every file of the current snapshot is present and whole (size, rows, sha256)')
    .option('--lake <dir>', LAKE_HELP)
    .option('--snapshot <id>', 'verify this snapshot instead of the current one')
    .action(async (flags: { lake?: string; snapshot?: string }) => {
      const layout = new LakeLayout(resolveLakeDir(flags.lake));
      const { verifySnapshot } = await import('../../lake/history.js');
      const { readSnapshot } = await import('../../lake/snapshots.js');
      const manifest = flags.snapshot
        ? await readSnapshot(
            layout,
            parseIntegerFlag('--snapshot', flags.snapshot, 1, Number.MAX_SAFE_INTEGER),
          )
        : await readCurrentSnapshot(layout);
      if (manifest === null)
        throw new TxlakeError('lake', `the lake ${layout.root} has no snapshot to verify`);
      const problems = await withEngine((engine) => verifySnapshot(layout, manifest, engine));
      for (const p of problems) process.stderr.write(`problem: ${p.path}: ${p.problem}\n`);
      if (problems.length > 0) {
        throw new TxlakeError(
          'lake',
          `snapshot ${manifest.id} is damaged: ${problems.length} of its files failed the check`,
        );
      }
      process.stdout.write(
        `snapshot ${manifest.id} is whole: ${manifest.files.length + 1} files, ${manifest.rows} rows, checksums match\n`,
      );
    });

  program
    .command('vacuum')
    .description("remove files no retained snapshot needs (expired snapshots, crashed writers' leftovers)")
    .option('--lake <dir>', LAKE_HELP)
    .option('--retain <duration>', 'keep snapshots committed within this long (30m, 12h, 7d, 0)', '7d')
    .action(async (flags: { lake?: string; retain: string }) => {
      const { parseRetention, vacuum } = await import('../../lake/vacuum.js');
      const retainMs = parseRetention(flags.retain);
      const result = await vacuum(new LakeLayout(resolveLakeDir(flags.lake)), retainMs, printNotice);
      const mib = (result.removedBytes / 1048576).toFixed(1);
      process.stdout.write(
        `removed ${result.removedFiles.length} files (${mib} MiB) and ${result.removedSnapshots.length} expired ` +
          `snapshots; kept ${result.retained.length} snapshots (${result.retained.join(', ') || 'none'})\n`,
      );
    });
}
