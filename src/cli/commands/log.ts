// `txlake log`: the lake's audit log (lake/audit.ts), oldest first: who ran which lake operation, when, and
// how it ended.

import type { Command } from 'commander';
import { TxlakeError } from '../../domain/errors.js';
import type { AuditRecord } from '../../lake/audit.js';
import { LakeLayout } from '../../lake/layout.js';
import { lakeRootExists } from '../../lake/snapshots.js';
import { DEFAULTS, resolveLakeDir } from '../config.js';
import { parseIntegerFlag } from '../flags.js';

/** The record's detail in a few words: what a reader scanning the log wants first. */
function summary(record: AuditRecord): string {
  const d = record.detail;
  const parts: string[] = [];
  const has = (key: string) => d[key] !== undefined && d[key] !== null;
  if (has('snapshot')) parts.push(`snapshot ${d.snapshot}`);
  if (has('rows_read'))
    parts.push(`${d.rows_read} rows read, ${d.rows_committed} committed, ${d.rows_rejected} rejected`);
  if (has('rows_erased')) parts.push(`${d.rows_erased} rows erased`);
  if (has('to')) parts.push(`to snapshot ${d.to}`);
  if (Array.isArray(d.removed_snapshots)) parts.push(`removed snapshots [${d.removed_snapshots.join(', ')}]`);
  if (has('name')) parts.push(`key "${d.name}"`);
  if (Array.isArray(d.files)) parts.push((d.files as unknown[]).join(' '));
  if (record.error) parts.push(`: ${record.error}`);
  return parts.join(', ').replace(', :', ':');
}

export function registerLog(program: Command): void {
  program
    .command('log')
    .description('show the audit log: every lake operation, who ran it (OS user@host), when, and its result')
    .option('--lake <dir>', `lake directory (env TXLAKE_LAKE, default ${DEFAULTS.lake})`)
    .option(
      '--operation <name>',
      'only this operation (ingest, delete-user, rollback, vacuum, repair, keys …)',
    )
    .option('--last <n>', 'only the last N records')
    .option('--json', 'one JSON record per line, as stored')
    .action(async (flags: { lake?: string; operation?: string; last?: string; json?: boolean }) => {
      const layout = new LakeLayout(resolveLakeDir(flags.lake));
      if (!(await lakeRootExists(layout)))
        throw new TxlakeError(
          'lake',
          `there is no lake at ${layout.root} (no such directory); check --lake or TXLAKE_LAKE`,
        );
      const { readAudit } = await import('../../lake/audit.js');
      const { records, damagedLines } = await readAudit(layout);
      let shown = flags.operation
        ? records.filter(
            (r) => r.operation === flags.operation || r.operation.startsWith(`${flags.operation} `),
          )
        : records;
      if (flags.last !== undefined)
        shown = shown.slice(-parseIntegerFlag('--last', flags.last, 1, Number.MAX_SAFE_INTEGER));
      for (const record of shown)
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(record)}\n`
            : `${record.time}  ${record.actor.user}@${record.actor.host}  ${record.operation.padEnd(15)} ${record.result.padEnd(7)}  ${summary(record)}\n`,
        );
      if (records.length === 0 && damagedLines.length === 0 && !flags.json)
        process.stdout.write('no lake operation recorded yet\n');
      if (damagedLines.length > 0)
        throw new TxlakeError(
          'lake',
          `${layout.relative(layout.auditLog)} has ${damagedLines.length} damaged line${damagedLines.length === 1 ? '' : 's'} (${damagedLines.slice(0, 5).join(', ')}${damagedLines.length > 5 ? ', …' : ''}), shown above are the others; a line torn by a crash is expected, others mean the file was edited`,
        );
    });
}
