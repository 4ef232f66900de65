// The memory-size flags of `serve` (--index-memory, --answer-cache): bytes or a binary unit, else a usage
// error naming the flag and the text given.

import { describe, expect, it } from 'vitest';
import { parseByteSize } from '../../src/cli/flags.js';
import { isTxlakeError } from '../../src/domain/errors.js';

describe('parseByteSize', () => {
  it.each([
    ['0', 0],
    ['1000', 1000],
    ['1KB', 1024],
    ['1kb', 1024],
    ['64k', 64 * 1024],
    ['2KiB', 2048],
    ['512MB', 512 * 1024 ** 2],
    ['512 mb', 512 * 1024 ** 2],
    ['  3M ', 3 * 1024 ** 2],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['2GB', 2 * 1024 ** 3],
    ['10b', 10],
    ['1.5', 1],
  ])('%j is %d bytes', (text, bytes) => {
    expect(parseByteSize('--answer-cache', text)).toBe(bytes);
  });

  it.each(['', 'lots', '-1', '1TB', '1e3', '.5MB', '1,5MB', 'MB', '5 M B', '0x10'])(
    '%j is a usage error naming the flag',
    (text) => {
      let caught: unknown;
      try {
        parseByteSize('--index-memory', text);
      } catch (error) {
        caught = error;
      }
      expect(isTxlakeError(caught) && caught.kind).toBe('usage');
      expect((caught as Error).message).toBe(
        `--index-memory must be a size such as 512MB or 2GB, got "${text}"`,
      );
    },
  );
});
