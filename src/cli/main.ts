// The txlake command line: each command lives in cli/commands/ and registers itself on the program.
// Errors end here: a TxlakeError prints one line and exits with its code; anything else is a bug.

import { Command, CommanderError } from 'commander';
import { isTxlakeError } from '../domain/errors.js';
import { registerBench } from './commands/bench.js';
import { registerDeleteUser } from './commands/delete-user.js';
import { registerGenerate } from './commands/generate.js';
import { registerHistory } from './commands/history.js';
import { registerIngest } from './commands/ingest.js';
import { registerServe } from './commands/serve.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerStart } from './commands/start.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

export function buildProgram(): Command {
  const program = new Command('txlake')
    .description('Card-transaction CSV files → a typed, snapshotted Parquet lake → an HTTP JSON API')
    .option('--verbose', 'print stack traces of errors')
    .showSuggestionAfterError()
    .exitOverride();
  // Usage errors stay one line (commander's own "error: …"), with a pointer to --help.
  program.configureOutput({
    outputError: (text, write) =>
      write(
        `${text
          .trim()
          .split(/\s*\n\s*/)
          .join(' ')} (see txlake --help)\n`,
      ),
  });
  registerIngest(program);
  registerServe(program);
  registerSnapshot(program);
  registerHistory(program);
  registerDeleteUser(program);
  registerGenerate(program);
  registerStart(program);
  registerBench(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // `txlake … | head` closes our stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = reportError(error, argv.includes('--verbose'));
  }
}

function reportError(error: unknown, verbose: boolean): number {
  if (error instanceof CommanderError) {
    // commander already printed its message (or the help); only the exit code is ours.
    return error.exitCode === 0 ? EXIT.ok : EXIT.inputError;
  }
  if (isTxlakeError(error)) {
    process.stderr.write(`error: ${error.message}\n`);
    if (verbose && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCodeFor(error.kind);
  }
  const diskFull =
    (error as NodeJS.ErrnoException)?.code === 'ENOSPC' ||
    /No space left on device/i.test(String((error as Error)?.message));
  if (diskFull) {
    process.stderr.write('error: no space left on device; nothing was committed and the lake is unchanged\n');
    return EXIT.failure;
  }
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  if (verbose && error instanceof Error && error.stack) {
    process.stderr.write(`error: ${message}\n${error.stack}\n`);
  } else {
    process.stderr.write(`error: ${message} (run again with --verbose for details)\n`);
  }
  return EXIT.failure;
}

await main(process.argv);
