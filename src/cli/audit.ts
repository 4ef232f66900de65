// Every lake operation run from the command line leaves a record in the lake's audit log (lake/audit.ts):
// a preAction hook notes which operation starts on which lake, the command adds what it did (auditDetail),
// and runProgram hands over how it ended (exit code and error line), success or not.

import type { Command } from 'commander';
import { isTxlakeError } from '../domain/errors.js';
import { type AuditRecord, appendAudit, currentActor } from '../lake/audit.js';
import { LakeLayout } from '../lake/layout.js';
import { resolveLakeDir } from './config.js';
import { printNotice } from './notices.js';

/** The audited commands, by their full name, and the options worth recording (never secrets). */
const AUDITED: Record<string, readonly string[]> = {
  ingest: ['mode', 'maxRejectRate', 'partitionBy', 'force', 'memoryLimit'],
  'delete-user': ['purge'],
  rollback: [],
  vacuum: ['retain'],
  repair: ['snapshot'],
  'keys create': [],
  'keys revoke': [],
  'clickhouse sync': [],
};

interface PendingOperation {
  layout: LakeLayout;
  operation: string;
  detail: Record<string, unknown>;
}

let pending: PendingOperation | null = null;

function fullName(command: Command): string {
  const parent = command.parent;
  return parent?.parent ? `${parent.name()} ${command.name()}` : command.name();
}

/** Add to the record of the operation under way (what it committed, counted, removed). */
export function auditDetail(detail: Record<string, unknown>): void {
  if (pending) Object.assign(pending.detail, detail);
}

export function auditLakeOperations(program: Command): void {
  program.hook('preAction', (_program, action) => {
    const operation = fullName(action);
    const recorded = AUDITED[operation];
    if (recorded === undefined) return;
    const flags = action.opts<Record<string, unknown>>();
    let lake: string;
    try {
      lake = resolveLakeDir((flags.lake ?? flags.output_file) as string | undefined);
    } catch {
      return; // the command refuses the same setting in words, and there is no lake to record it in
    }
    const options: Record<string, unknown> = {};
    for (const name of recorded) if (flags[name] !== undefined) options[name] = flags[name];
    const detail: Record<string, unknown> = { lake: new LakeLayout(lake).root, ...options };
    // Positional arguments are recorded where they are not personal data: files and snapshot ids, key
    // names; an erased user's id is not (the record proves an erasure happened, not whose).
    if (operation === 'ingest' && flags.watch !== undefined) detail.watch = flags.watch;
    else if (operation === 'ingest') detail.files = action.args.length > 0 ? action.args : [flags.input_file];
    if (operation === 'rollback') detail.to = action.args[0];
    if (operation.startsWith('keys ')) detail.name = action.args[0];
    pending = { layout: new LakeLayout(lake), operation, detail };
  });
}

/**
 * Record how the operation under way ended: ok, refused (a TxlakeError: bad input, a locked or damaged
 * lake; nothing changed) or failed (anything else). A log that cannot be written is said, not hidden.
 */
export async function recordOutcome(exitCode: number, error: unknown): Promise<void> {
  const operation = pending;
  pending = null;
  if (operation === null) return;
  const record: AuditRecord = {
    time: new Date().toISOString(),
    actor: currentActor(),
    pid: process.pid,
    operation: operation.operation,
    // A 'clickhouse' error: the lake operation stands and only ClickHouse is behind (it says so in `error`).
    result:
      error === null
        ? 'ok'
        : isTxlakeError(error)
          ? error.kind === 'clickhouse'
            ? 'ok'
            : 'refused'
          : 'failed',
    exit_code: exitCode,
    detail: operation.detail,
    ...(error === null
      ? {}
      : { error: (error instanceof Error ? error.message : String(error)).split('\n')[0] as string }),
  };
  try {
    await appendAudit(operation.layout, record);
  } catch (failure) {
    // A refused operation changed nothing, and its one line already says why (a read-only lake cannot
    // hold its record either); a lake that changed without a record must be told.
    if (record.result !== 'ok') return;
    printNotice(
      `the ${operation.operation} was not recorded in the audit log ${operation.layout.auditLog}: ${(failure as Error).message.split('\n')[0]}`,
    );
  }
}
