// Notes for the user on stderr (a recovered lock, a skipped file): one line each, never on stdout.

export function printNotice(message: string): void {
  process.stderr.write(`note: ${message}\n`);
}
