// Running a command-line program: errors end here. A TxlakeError prints one line and exits with its code;
// anything else is a bug, printed in one line (with the stack under --verbose). Shared by txlake and the
// benchmarks' program (bench/main.ts).

import { type Command, CommanderError } from 'commander';
import { isTxlakeError } from '../domain/errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

/** Usage errors stay one line (commander's own "error: …"), with a pointer to --help. */
export function oneLineErrors(program: Command): Command {
  return program.configureOutput({
    outputError: (text, write) =>
      write(
        `${text
          .trim()
          .split(/\s*\n\s*/)
          .join(' ')} (see ${program.name()} --help)\n`,
      ),
  });
}

/**
 * Run `program` on `argv`; `finished` hears how it ended (the exit code, and the error or null) before the
 * process exits (the audit log's record).
 */
export async function runProgram(
  program: Command,
  argv: string[],
  finished?: (exitCode: number, error: unknown) => Promise<void>,
): Promise<void> {
  // `txlake … | head` closes our stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  let failure: unknown = null;
  try {
    await program.parseAsync(argv);
  } catch (error) {
    failure = error;
    process.exitCode = reportError(error, argv.includes('--verbose'));
  }
  await finished?.(Number(process.exitCode ?? 0), failure);
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
