// Damage done on purpose to a lake's files, as a bad disk, a stray write or a careless hand would.

import fs from 'node:fs/promises';

/** Invert `count` bytes in the middle of `file`, keeping its size. */
export async function flipBytes(file: string, count = 64): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    const { size } = await handle.stat();
    const at = Math.floor(size / 2);
    const buffer = Buffer.alloc(Math.max(0, Math.min(count, size - at)));
    await handle.read(buffer, 0, buffer.length, at);
    for (let i = 0; i < buffer.length; i++) buffer[i] = (buffer[i] as number) ^ 0xff;
    await handle.write(buffer, 0, buffer.length, at);
  } finally {
    await handle.close();
  }
}
