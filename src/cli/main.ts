// The txlake command line: each command lives in cli/commands/ and registers itself on the program;
// run.ts turns errors into one line and an exit code.

import { Command } from 'commander';
import { auditLakeOperations, recordOutcome } from './audit.js';
import { registerClickHouse, syncAfterLakeOperations } from './commands/clickhouse.js';
import { registerDeleteUser } from './commands/delete-user.js';
import { registerGenerate } from './commands/generate.js';
import { registerHistory } from './commands/history.js';
import { registerIngest } from './commands/ingest.js';
import { registerKeys } from './commands/keys.js';
import { registerLog } from './commands/log.js';
import { registerServe } from './commands/serve.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerStart } from './commands/start.js';
import { oneLineErrors, runProgram } from './run.js';

export function buildProgram(): Command {
  const program = new Command('txlake')
    .description('Card-transaction CSV files → a typed, snapshotted Parquet lake → an HTTP JSON API')
    .option('--verbose', 'print stack traces of errors')
    .showSuggestionAfterError()
    .exitOverride();
  oneLineErrors(program);
  registerIngest(program);
  registerServe(program);
  registerSnapshot(program);
  registerHistory(program);
  registerDeleteUser(program);
  registerGenerate(program);
  registerStart(program);
  registerClickHouse(program);
  registerKeys(program);
  registerLog(program);
  syncAfterLakeOperations(program);
  auditLakeOperations(program);
  return program;
}

await runProgram(buildProgram(), process.argv, recordOutcome);
