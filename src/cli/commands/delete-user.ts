// `txlake delete-user ID [--purge]`: erase every row of one user (right to erasure) as a new snapshot.

import type { Command } from 'commander';
import { LakeLayout } from '../../lake/layout.js';
import { auditDetail } from '../audit.js';
import { DEFAULTS, resolveLakeDir } from '../config.js';
import { printNotice } from '../notices.js';

export function registerDeleteUser(program: Command): void {
  program
    .command('delete-user')
    .description(
      'erase every row of a user as a new snapshot (only the files holding the user are rewritten)',
    )
    .argument('<userId>', 'the user id')
    .option('--lake <dir>', `lake directory (env TXLAKE_LAKE, default ${DEFAULTS.lake})`)
    .option(
      '--purge',
      'also remove every older snapshot now (as `vacuum --retain 0`), so the rows leave the disk',
    )
    .option('--json', 'print the outcome as one JSON object')
    .addHelpText(
      'after',
      `
Without --purge the erased rows stay in the files of older snapshots (so a rollback could bring them back)
until \`txlake vacuum\` removes snapshots past the retention.`,
    )
    .action(async (userText: string, flags: { lake?: string; purge?: boolean; json?: boolean }) => {
      const { deleteUser, parseUserId } = await import('../../lake/erasure.js');
      const { withEngine } = await import('../../lake/engine.js');
      const userId = parseUserId(userText);
      const layout = new LakeLayout(resolveLakeDir(flags.lake));
      const result = await withEngine((engine) =>
        deleteUser(layout, userId, engine, {
          purge: flags.purge ?? false,
          notice: printNotice,
        }),
      );
      const purged = result.purged;
      auditDetail({
        rows_erased: result.rowsErased,
        files_rewritten: result.filesRewritten,
        snapshot: result.snapshot?.id ?? null,
        purged_files: purged?.removedFiles.length ?? 0,
        purged_snapshots: purged?.removedSnapshots ?? [],
      });
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify({
            user_id: String(userId),
            rows_erased: result.rowsErased,
            files_rewritten: result.filesRewritten,
            snapshot: result.snapshot?.id ?? null,
            purged_files: purged?.removedFiles.length ?? 0,
            purged_snapshots: purged?.removedSnapshots ?? [],
          })}\n`,
        );
        return;
      }
      process.stdout.write(
        result.snapshot
          ? `erased ${result.rowsErased} rows of user ${userId} (${result.filesRewritten} files rewritten) as snapshot ${result.snapshot.id}\n`
          : `user ${userId} has no rows in the current snapshot; nothing to erase\n`,
      );
      if (purged) {
        process.stdout.write(
          `purged ${purged.removedFiles.length} files and ${purged.removedSnapshots.length} older snapshots\n`,
        );
      } else if (result.snapshot) {
        process.stdout.write(
          'older snapshots still hold those rows until `txlake vacuum` (or use --purge)\n',
        );
      }
    });
}
