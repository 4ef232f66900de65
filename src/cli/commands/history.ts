// `txlake snapshots`, `rollback ID`, `verify`, `vacuum` and `repair`: the lake's history, integrity and upkeep.

import type { Command } from 'commander';
import { TxlakeError } from '../../domain/errors.js';
import type { Engine } from '../../lake/engine.js';
import type { SnapshotSummary } from '../../lake/history.js';
import { assertHasCurrent, inspectLake } from '../../lake/lake-state.js';
import { LakeLayout } from '../../lake/layout.js';
import type { SnapshotManifest } from '../../lake/manifest.js';
import { describeManifestProblem, readManifest } from '../../lake/snapshots.js';
import { readVacuumed } from '../../lake/vacuumed.js';
import { auditDetail } from '../audit.js';
import { DEFAULTS, resolveLakeDir } from '../config.js';
import { parseIntegerFlag } from '../flags.js';
import { printNotice } from '../notices.js';

const LAKE_HELP = `lake directory (env TXLAKE_LAKE, default ${DEFAULTS.lake})`;

/** The engine is loaded on use, so that `--help` stays fast. */
async function withEngine<T>(work: (engine: Engine) => Promise<T>): Promise<T> {
  return (await import('../../lake/engine.js')).withEngine(work);
}

function parseSnapshotId(flag: string, text: string): number {
  return parseIntegerFlag(flag, text, 1, Number.MAX_SAFE_INTEGER);
}

function describeSnapshot(s: SnapshotSummary): string {
  const what =
    s.operation === 'rollback'
      ? `rollback to ${s.restores}`
      : s.operation === 'delete-user'
        ? `erase user ${s.erased_user}`
        : `${s.operation} (${s.mode})`;
  const files = s.files === null ? `${s.damaged}` : `${s.files} files${s.damaged ? `, ${s.damaged}` : ''}`;
  return (
    `${s.current ? '*' : ' '} ${String(s.id).padStart(4)}  ${s.created}  ${what.padEnd(18)} ` +
    `${String(s.rows).padStart(12)} rows  ${files}`
  );
}

export function registerHistory(program: Command): void {
  program
    .command('snapshots')
    .description('list every snapshot of the lake, oldest first (* marks the current one)')
    .option('--lake <dir>', LAKE_HELP)
    .option('--json', 'print a JSON array')
    .action(async (flags: { lake?: string; json?: boolean }) => {
      const { listSnapshots } = await import('../../lake/history.js');
      const { snapshots, problem } = await listSnapshots(new LakeLayout(resolveLakeDir(flags.lake)));
      if (flags.json) process.stdout.write(`${JSON.stringify(snapshots)}\n`);
      else if (snapshots.length === 0 && problem === null) {
        process.stdout.write('no snapshots yet; run `txlake ingest FILE` first\n');
      } else {
        for (const s of snapshots) process.stdout.write(`${describeSnapshot(s)}\n`);
      }
      // The history above is what was committed; a lake that cannot say which snapshot is current says so.
      if (problem) throw new TxlakeError('lake', problem.message);
    });

  program
    .command('rollback')
    .description('make an earlier snapshot current again, as a new snapshot (history is never rewritten)')
    .argument('<id>', 'the snapshot to restore (see `txlake snapshots`)')
    .option('--lake <dir>', LAKE_HELP)
    .action(async (idText: string, flags: { lake?: string }) => {
      const id = parseSnapshotId('snapshot id', idText);
      const { rollbackTo } = await import('../../lake/history.js');
      const manifest = await withEngine((engine) =>
        rollbackTo(new LakeLayout(resolveLakeDir(flags.lake)), id, engine, printNotice),
      );
      auditDetail({ snapshot: manifest.id, rows: manifest.rows });
      process.stdout.write(
        `snapshot ${manifest.id} restores snapshot ${id} (${manifest.rows} rows) and is now current\n`,
      );
    });

  program
    .command('verify')
    .description(
      "check the lake's pointer and commit log, and that every file of the current snapshot is present and whole (size, rows, sha256)",
    )
    .option('--lake <dir>', LAKE_HELP)
    .option('--snapshot <id>', 'verify this snapshot instead of the current one')
    .option('--all', 'verify every snapshot the lake still holds')
    .action(async (flags: { lake?: string; snapshot?: string; all?: boolean }) => {
      const layout = new LakeLayout(resolveLakeDir(flags.lake));
      const { verifySnapshot } = await import('../../lake/integrity.js');
      const state = await inspectLake(layout);
      if (flags.snapshot === undefined && !flags.all) assertHasCurrent(state);
      else if (!state.exists) assertHasCurrent(state);
      if (state.problem) process.stderr.write(`problem: ${state.problem.message}\n`);
      const vacuumed = await readVacuumed(layout);

      const ids = flags.snapshot
        ? [parseSnapshotId('--snapshot', flags.snapshot)]
        : flags.all
          ? [...state.committed.keys()].filter((id) => !vacuumed.has(id))
          : [state.currentId as number];
      const damaged: Array<{ id: number; files: number }> = [];
      await withEngine(async (engine) => {
        for (const id of ids) {
          const reading = await readManifest(layout, id);
          if (reading.kind !== 'ok') {
            if (
              reading.kind === 'missing' &&
              flags.snapshot &&
              (vacuumed.has(id) || !state.committed.has(id))
            ) {
              const why = vacuumed.has(id)
                ? 'it was removed by vacuum'
                : id > state.highestId
                  ? `it does not exist (the newest snapshot is ${state.highestId})`
                  : 'it was never committed';
              throw new TxlakeError('usage', `snapshot ${id} is not in the lake ${layout.root}: ${why}`);
            }
            process.stderr.write(`problem: ${describeManifestProblem(layout, id, reading)}\n`);
            damaged.push({ id, files: 0 });
            continue;
          }
          const problems = await verifySnapshot(layout, reading.manifest, engine);
          const prefix = ids.length > 1 ? `snapshot ${id}: ` : '';
          for (const p of problems) process.stderr.write(`problem: ${prefix}${p.path} ${p.problem}\n`);
          if (problems.length > 0) damaged.push({ id, files: problems.length });
          else process.stdout.write(`${wholeLine(reading.manifest)}\n`);
        }
      });
      const first = damaged[0];
      if (first) {
        const what =
          damaged.length > 1
            ? `snapshots ${damaged.map((d) => d.id).join(', ')} are damaged`
            : first.files === 0
              ? `snapshot ${first.id} is damaged: its manifest cannot be used`
              : `snapshot ${first.id} is damaged: ${first.files} of its files failed the check`;
        throw new TxlakeError(
          'lake',
          `${what}; \`txlake repair --lake ${layout.root}\` says what can be done`,
        );
      }
      if (state.problem) throw new TxlakeError('lake', 'the lake is not consistent (see the problem above)');
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
      auditDetail({
        removed_files: result.removedFiles.length,
        removed_bytes: result.removedBytes,
        removed_snapshots: result.removedSnapshots,
        retained: result.retained,
      });
      const mib = (result.removedBytes / 1048576).toFixed(1);
      const uncommitted = result.removedUncommitted.length;
      const abandoned =
        uncommitted === 0
          ? ''
          : ` and ${uncommitted} manifest${uncommitted === 1 ? '' : 's'} of writes never committed`;
      process.stdout.write(
        `removed ${result.removedFiles.length} files (${mib} MiB) and ${result.removedSnapshots.length} expired ` +
          `snapshots${abandoned}; kept ${result.retained.length} snapshot${result.retained.length === 1 ? '' : 's'} (${result.retained.join(', ') || 'none'})\n`,
      );
    });

  program
    .command('repair')
    .description(
      "restore a lost or wrong pointer (_txlake/CURRENT) and a damaged or missing commit log from the lake's history, then verify the current snapshot",
    )
    .option('--lake <dir>', LAKE_HELP)
    .option(
      '--snapshot <id>',
      'the snapshot to make current when the lake has lost both its pointer and its commit log',
    )
    .addHelpText(
      'after',
      `
Repair never deletes and never goes back in time: it makes the newest committed snapshot current again.
When that snapshot's files are damaged it says so and names the newest intact snapshot, which
\`txlake rollback ID\` makes current (as a new snapshot; the damaged one stays in history).

Exit codes: 0 the lake is consistent and its current snapshot whole, 1 something is still wrong (printed).`,
    )
    .action(async (flags: { lake?: string; snapshot?: string }) => {
      const { repairLake } = await import('../../lake/repair.js');
      const layout = new LakeLayout(resolveLakeDir(flags.lake));
      const result = await withEngine((engine) =>
        repairLake(layout, engine, {
          notice: printNotice,
          ...(flags.snapshot ? { snapshot: parseSnapshotId('--snapshot', flags.snapshot) } : {}),
        }),
      );
      auditDetail({ actions: result.actions, current: result.current, remaining: result.remaining ?? null });
      for (const action of result.actions) process.stdout.write(`${action}\n`);
      if (result.remaining) throw new TxlakeError('lake', result.remaining);
      process.stdout.write(
        result.current === null
          ? 'nothing to repair: the lake has no snapshot yet\n'
          : `${result.actions.length === 0 ? 'nothing to repair: ' : ''}snapshot ${result.current} is current and whole\n`,
      );
    });
}

function wholeLine(manifest: SnapshotManifest): string {
  return `snapshot ${manifest.id} is whole: ${manifest.files.length + 1} files, ${manifest.rows} rows, checksums match`;
}
