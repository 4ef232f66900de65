// What a hostile review of lake integrity found, each kept as a test: edited metadata, links and paths
// that would have made a command delete or overwrite lake files, serve a snapshot the lake cannot vouch
// for, or guess. Each case starts from a copy of a lake of three snapshots.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/backends/embedded/embedded-store.js';
import { generateTransactionsFile } from '../../src/sample/generator.js';
import { fileDigests } from '../helpers/damage.js';
import { assertBuilt, errorLine, runExpecting } from '../helpers/txlake.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';
let dir: string;
let base: string;
let extra: string;

async function copyOfBase(name: string): Promise<string> {
  const lake = path.join(dir, name);
  await fs.cp(base, lake, { recursive: true });
  return lake;
}

const manifestPath = (lake: string, id: number) =>
  path.join(lake, '_txlake', 'snapshots', `${String(id).padStart(8, '0')}.json`);

beforeAll(async () => {
  assertBuilt();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-attacks-'));
  base = path.join(dir, 'base');
  for (const [i, rows] of [2000, 1000, 500].entries()) {
    const file = path.join(dir, `g${i}.csv`);
    await generateTransactionsFile({ rows, seed: 40 + i, users: 70 }, file);
    await runExpecting(['ingest', file, '--lake', base], 0);
  }
  extra = path.join(dir, 'extra.csv');
  await fs.writeFile(extra, `${HEADER}\n990001,PurchaseActivity,5411,1234,2023-05-01T10:00:00\n`);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('vacuum', () => {
  it('refuses a vacuumed.json that names the current snapshot, and removes nothing', async () => {
    const lake = await copyOfBase('vacuumed-current');
    await fs.writeFile(
      path.join(lake, '_txlake', 'vacuumed.json'),
      '{"format":"txlake.vacuumed/1","ids":"1-3"}\n',
    );
    const before = await fileDigests(lake);
    expect(errorLine(await runExpecting(['vacuum', '--retain', '0', '--lake', lake], 1))).toMatch(
      /vacuumed.json of the lake .* names the current snapshot 3 as removed, which no vacuum does: it is damaged; nothing was removed/,
    );
    expect(await fileDigests(lake)).toEqual(before);
  });

  it('refuses while the current snapshot is damaged: the older snapshots may be the way out', async () => {
    const lake = await copyOfBase('vacuum-damaged-current');
    const snapshot = JSON.parse((await runExpecting(['snapshot', '--json', '--lake', lake], 0)).stdout) as {
      files: string[];
    };
    await fs.truncate(path.join(lake, snapshot.files.at(-1) as string), 10);
    const before = await fileDigests(lake);
    expect(errorLine(await runExpecting(['vacuum', '--retain', '0', '--lake', lake], 1))).toMatch(
      /the current snapshot 3 of the lake .* is damaged: its data file .* is 10 bytes, the manifest says [0-9]+; vacuum removes nothing/,
    );
    expect(await fileDigests(lake)).toEqual(before);
    await runExpecting(['rollback', '2', '--lake', lake], 0); // the way out is still there
  });

  it('keeps unreferenced data files newer than the retention (restoring an older _txlake/ loses nothing)', async () => {
    const lake = await copyOfBase('old-metadata');
    const backup = path.join(dir, 'metadata-at-3');
    await fs.cp(path.join(lake, '_txlake'), backup, { recursive: true });
    await runExpecting(['ingest', extra, '--lake', lake], 0);
    const newFiles = JSON.parse(
      (await runExpecting(['snapshot', '--json', '--lake', lake], 0)).stdout,
    ).files.slice(-1) as string[];
    await fs.rm(path.join(lake, '_txlake'), { recursive: true });
    await fs.cp(backup, path.join(lake, '_txlake'), { recursive: true }); // an older backup put back
    await runExpecting(['vacuum', '--lake', lake], 0);
    for (const file of newFiles) await fs.access(path.join(lake, file)); // still there
  });
});

describe('writers', () => {
  it('refuse a --rejects that names a file of the lake, or the input itself', async () => {
    const lake = await copyOfBase('rejects-target');
    const bad = path.join(dir, 'bad.csv');
    await fs.writeFile(
      bad,
      `${HEADER}\n1,PurchaseActivity,5411,100,2023-05-01T10:00:00\n2,Refund,5411,100,2023-05-01T10:00:00\n`,
    );
    const before = await fileDigests(lake);
    for (const target of [
      path.join(lake, '_txlake', 'CURRENT'),
      manifestPath(lake, 3),
      path.join(lake, 'x.csv'),
    ]) {
      const result = await runExpecting(
        ['ingest', bad, '--lake', lake, '--max-reject-rate', '1', '--rejects', target],
        2,
      );
      expect(errorLine(result)).toBe(
        `error: --rejects ${target} names a file inside the lake ${lake}; name one outside it`,
      );
    }
    expect(
      errorLine(
        await runExpecting(['ingest', bad, '--lake', lake, '--max-reject-rate', '1', '--rejects', bad], 2),
      ),
    ).toBe(`error: --rejects ${bad} names the input file itself; name another file`);
    expect(await fileDigests(lake)).toEqual(before);
  });

  it('never follow a _txlake/staging that is a link: what it points to is left alone', async () => {
    const lake = await copyOfBase('staging-link');
    const precious = path.join(dir, 'precious');
    await fs.mkdir(precious);
    await fs.writeFile(path.join(precious, 'keep.txt'), 'mine');
    await fs.rm(path.join(lake, '_txlake', 'staging'), { recursive: true, force: true });
    await fs.symlink(precious, path.join(lake, '_txlake', 'staging'));
    for (const args of [['vacuum'], ['ingest', extra]]) {
      expect(errorLine(await runExpecting([...args, '--lake', lake], 1))).toMatch(
        /_txlake\/staging in the lake .* is a symbolic link; txlake removes what it finds there, so it will not follow it/,
      );
    }
    expect(await fs.readFile(path.join(precious, 'keep.txt'), 'utf8')).toBe('mine');
    await fs.access(path.join(lake, '_txlake', 'LOCK')).then(
      () => expect.fail('the lock was left behind'),
      () => {},
    );
  });

  it('refuse a lake whose _txlake/ is gone but whose data files are there, instead of starting a new history', async () => {
    const lake = await copyOfBase('lost-metadata');
    await fs.rm(path.join(lake, '_txlake'), { recursive: true });
    const before = await fileDigests(lake);
    for (const args of [['ingest', extra], ['snapshot'], ['verify']]) {
      expect(errorLine(await runExpecting([...args, '--lake', lake], 1))).toMatch(
        /the lake .* holds Parquet data files \(transaction_type=.*\.parquet, …\) but no snapshots: its _txlake\/ metadata is missing/,
      );
    }
    expect(await fileDigests(lake)).toEqual(before);
  });

  it('log the chain CURRENT names when the log lost its last lines (all of it was committed)', async () => {
    const lake = await copyOfBase('short-log');
    const log = path.join(lake, '_txlake', 'commits.jsonl');
    const lines = (await fs.readFile(log, 'utf8')).split('\n');
    await fs.writeFile(log, `${lines[0]}\n`);
    const result = await runExpecting(['ingest', extra, '--lake', lake], 0);
    expect(result.stderr).toContain(
      'note: recorded snapshots 2, 3 in the commit log (committed, but missing from it)',
    );
    expect(JSON.parse((await runExpecting(['snapshot', '--json', '--lake', lake], 0)).stdout)).toMatchObject({
      id: 4,
      rows: 3501,
    });
  });

  it('take the largest ids without losing the pointer', async () => {
    const lake = await copyOfBase('huge-id');
    await fs.writeFile(manifestPath(lake, 999999999999999), 'garbage');
    await runExpecting(['ingest', extra, '--lake', lake], 0);
    expect(JSON.parse((await runExpecting(['snapshot', '--json', '--lake', lake], 0)).stdout).id).toBe(
      1000000000000000,
    );
    await runExpecting(['verify', '--lake', lake], 0);
  });
});

describe('messages', () => {
  it('stay one line for a CURRENT holding several lines, and refuse an empty --lake', async () => {
    const lake = await copyOfBase('two-line-pointer');
    await fs.writeFile(path.join(lake, '_txlake', 'CURRENT'), '3\n3\n');
    const result = await runExpecting(['ingest', extra, '--lake', lake], 1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(errorLine(result)).toContain('does not hold a snapshot id (it holds "3\\n3")');
    expect(errorLine(await runExpecting(['snapshots', '--lake', ''], 2))).toBe(
      'error: --lake is empty; name the lake directory',
    );
  });
});

describe('usage errors', () => {
  it('serve on a --lake that is a file, and verify of a snapshot the lake does not hold, exit 2 in one line', async () => {
    const file = path.join(dir, 'not-a-lake');
    await fs.writeFile(file, 'x');
    expect((await runExpecting(['serve', '--lake', file, '--port', '0'], 2)).stderr.trim()).toBe(
      `error: the lake ${file} is not a directory; name a directory with --lake`,
    );
    expect((await runExpecting(['verify', '--snapshot', '99', '--lake', base], 2)).stderr.trim()).toBe(
      `error: snapshot 99 is not in the lake ${base}: it does not exist (the newest snapshot is 3)`,
    );
  });
});

describe('repair', () => {
  it('refuses a --snapshot the history does not need, naming rollback or the newest snapshot', async () => {
    expect(errorLine(await runExpecting(['repair', '--snapshot', '9', '--lake', base], 2))).toBe(
      'error: snapshot 9 is newer than every committed snapshot (the newest is 3)',
    );
    expect(errorLine(await runExpecting(['repair', '--snapshot', '1', '--lake', base], 2))).toBe(
      "error: the lake's history says snapshot 3 is current, so --snapshot is not needed; to go back to snapshot 1, " +
        'run `txlake repair` and then `txlake rollback 1`',
    );
  });

  it('does not bless a changed manifest whose log line is damaged too', async () => {
    const lake = await copyOfBase('edited-and-damaged');
    const manifest = JSON.parse(await fs.readFile(manifestPath(lake, 3), 'utf8'));
    const dropped = manifest.files.pop();
    manifest.rows -= dropped.rows;
    await fs.writeFile(manifestPath(lake, 3), `${JSON.stringify(manifest, null, 2)}\n`);
    const log = path.join(lake, '_txlake', 'commits.jsonl');
    await fs.writeFile(
      log,
      (await fs.readFile(log, 'utf8')).replace(/"check":"([0-9a-f]{15})[0-9a-f]"\}\n$/, '"check":"$1x"}\n'),
    );
    expect(errorLine(await runExpecting(['repair', '--lake', lake], 1))).toBe(
      'error: the manifest of snapshot 3 is not the one its (damaged) commit-log line records: it was changed; ' +
        'restore it from a backup, then run `txlake repair` again',
    );
  });

  it('without log and pointer, refuses a --snapshot whose history leaves out a proven commit', async () => {
    const lake = await copyOfBase('no-log-no-pointer');
    await fs.rm(path.join(lake, '_txlake', 'CURRENT'));
    await fs.rm(path.join(lake, '_txlake', 'commits.jsonl'));
    expect(errorLine(await runExpecting(['repair', '--snapshot', '1', '--lake', lake], 1))).toBe(
      'error: snapshot 2 was committed (snapshot 3 is built on it) but is not in the history of snapshot 1; ' +
        'choose a snapshot whose history includes it (`txlake repair` lists them)',
    );
    await runExpecting(['repair', '--snapshot', '3', '--lake', lake], 0);
  });
});

describe('manifests without a log to vouch for them', () => {
  it('are refused when they name a file twice, or a metadata file as data', async () => {
    for (const [name, edit] of [
      [
        'twice',
        (m: { files: Array<{ rows: number }>; rows: number }) => {
          m.files.push(m.files[0] as { rows: number });
          m.rows += (m.files[0] as { rows: number }).rows;
        },
      ],
      [
        'metadata',
        (m: { files: Array<{ path: string }> }) => {
          (m.files[0] as { path: string }).path = '_txlake/snapshots/00000001.json';
        },
      ],
    ] as const) {
      const lake = await copyOfBase(`manifest-${name}`);
      await fs.rm(path.join(lake, '_txlake', 'commits.jsonl'));
      const manifest = JSON.parse(await fs.readFile(manifestPath(lake, 3), 'utf8'));
      edit(manifest);
      await fs.writeFile(manifestPath(lake, 3), JSON.stringify(manifest));
      expect(errorLine(await runExpecting(['snapshot', '--lake', lake], 1))).toMatch(
        /the manifest of snapshot 3 .* is damaged: .* is not a whole txlake snapshot manifest/,
      );
    }
  });
});

describe('a server', () => {
  it('of a lake without a log does not follow a CURRENT moved back by hand', async () => {
    const lake = await copyOfBase('no-log-moved-back');
    await fs.rm(path.join(lake, '_txlake', 'commits.jsonl'));
    const store = await EmbeddedStore.open({ lake });
    try {
      await store.refresh();
      expect(store.current()?.id).toBe(3);
      // (Snapshot 3 on top of 2 alone could be a write that never committed; built on 2, it proves 2 was.)
      await fs.writeFile(path.join(lake, '_txlake', 'CURRENT'), '1\n');
      await expect(store.refresh()).rejects.toThrow(/snapshot 2 was committed and is not in its history/);
      expect(store.current()?.id).toBe(3);
      expect(store.problem()).toMatch(
        /^_txlake\/CURRENT of the lake <lake> names snapshot 1, but snapshot 2 was committed/,
      );
    } finally {
      await store.close();
    }
  });

  it('with Parquet lookups answers as before when a file is replaced by the same bytes (a restore)', async () => {
    const lake = await copyOfBase('same-bytes');
    const store = await EmbeddedStore.open({ lake, userLookup: 'parquet' });
    try {
      await store.refresh();
      const view = store.current();
      if (view === null) throw new Error('no view');
      const before = await view.transactionsOfUser(1000n);
      const file = path.join(
        lake,
        view.lookup.kind === 'parquet'
          ? (JSON.parse(await fs.readFile(manifestPath(lake, 3), 'utf8')).files[0].path as string)
          : '',
      );
      const bytes = await fs.readFile(file);
      await fs.rm(file);
      await fs.writeFile(file, bytes); // a new inode, the same content
      expect(await view.transactionsOfUser(1000n)).toEqual(before);
      expect(view.impaired).toBeNull();
    } finally {
      await store.close();
    }
  });
});
