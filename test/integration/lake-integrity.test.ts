// Lake integrity (the integrity issue's findings 1–4 and 8): no command deletes what a retained snapshot needs
// or builds on what the lake cannot vouch for, whatever state CURRENT, the commit log and the manifests are
// in; `txlake repair` restores what the history decides; every state has a true message. Each case starts
// from a copy of one lake of two snapshots (a 500-row ingest, then a 2,000-row append).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTransactionsFile } from '../../src/sample/generator.js';
import { fileDigests, flipBytes } from '../helpers/damage.js';
import { assertBuilt, errorLine, runExpecting, runTxlake } from '../helpers/txlake.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';
let dir: string;
let base: string;
let extra: string;

async function copyOfBase(name: string): Promise<string> {
  const lake = path.join(dir, name);
  await fs.cp(base, lake, { recursive: true });
  return lake;
}

async function snapshotJson(lake: string): Promise<{ id: number; rows: number; files: string[] }> {
  return JSON.parse((await runExpecting(['snapshot', '--json', '--lake', lake], 0)).stdout);
}

beforeAll(async () => {
  assertBuilt();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-integrity-'));
  base = path.join(dir, 'base');
  const first = path.join(dir, 'first.csv');
  const second = path.join(dir, 'second.csv');
  await generateTransactionsFile({ rows: 500, seed: 11, users: 40 }, first);
  await generateTransactionsFile({ rows: 2000, seed: 12, users: 60 }, second);
  await runExpecting(['ingest', first, '--lake', base], 0);
  await runExpecting(['ingest', second, '--lake', base], 0);
  extra = path.join(dir, 'extra.csv');
  await fs.writeFile(extra, `${HEADER}\n777001,PurchaseActivity,5411,1234,2023-05-01T10:00:00\n`);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('CURRENT names a snapshot that does not exist (finding 1)', () => {
  it('vacuum, ingest, delete-user and rollback refuse with one line naming repair; nothing is removed', async () => {
    const lake = await copyOfBase('wrong-pointer');
    await fs.writeFile(path.join(lake, '_txlake', 'CURRENT'), '99\n');
    const before = await fileDigests(lake);
    for (const args of [
      ['vacuum'],
      ['vacuum', '--retain', '0'],
      ['ingest', extra],
      ['delete-user', '777001'],
      ['rollback', '1'],
    ]) {
      const result = await runExpecting([...args, '--lake', lake], 1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(errorLine(result)).toBe(
        `error: _txlake/CURRENT of the lake ${lake} names snapshot 99, which does not exist ` +
          `(the commit log ends at snapshot 2); run \`txlake repair --lake ${lake}\` to restore it`,
      );
    }
    expect(await fileDigests(lake)).toEqual(before);
    const repaired = await runExpecting(['repair', '--lake', lake], 0);
    expect(repaired.stdout).toBe(
      'restored _txlake/CURRENT (it named snapshot 99): it names snapshot 2 again, the newest committed\n' +
        'snapshot 2 is current and whole\n',
    );
    expect((await snapshotJson(lake)).id).toBe(2);
    await runExpecting(['verify', '--lake', lake], 0);
    await runExpecting(['vacuum', '--lake', lake], 0);
    expect((await snapshotJson(lake)).rows).toBe(2500);
  });

  it('so does a pointer that is not an id, or names an older snapshot (an edit by hand)', async () => {
    const lake = await copyOfBase('odd-pointer');
    await fs.writeFile(path.join(lake, '_txlake', 'CURRENT'), 'latest\n');
    expect(errorLine(await runExpecting(['ingest', extra, '--lake', lake], 1))).toBe(
      `error: _txlake/CURRENT of the lake ${lake} does not hold a snapshot id (it holds "latest"); ` +
        `run \`txlake repair --lake ${lake}\` to restore it`,
    );
    await fs.writeFile(path.join(lake, '_txlake', 'CURRENT'), '1\n');
    expect(errorLine(await runExpecting(['vacuum', '--lake', lake], 1))).toBe(
      `error: _txlake/CURRENT of the lake ${lake} names snapshot 1, but snapshot 2 was committed after it ` +
        `(CURRENT was changed outside txlake); run \`txlake repair --lake ${lake}\` to restore it, then ` +
        '`txlake rollback 1` if you meant to go back to it',
    );
    await runExpecting(['repair', '--lake', lake], 0);
    expect((await snapshotJson(lake)).id).toBe(2);
  });
});

describe('a lost CURRENT (finding 2)', () => {
  it('does not start a new history: writers refuse, snapshots shows the history and says so, repair restores', async () => {
    const lake = await copyOfBase('lost-pointer');
    await fs.rm(path.join(lake, '_txlake', 'CURRENT'));
    const before = await fileDigests(lake);
    const message =
      `error: the lake ${lake} has lost its pointer _txlake/CURRENT; its commit log says snapshot 2 is current; ` +
      `run \`txlake repair --lake ${lake}\` to restore it`;
    for (const args of [
      ['ingest', extra],
      ['ingest', extra, '--mode', 'replace'],
      ['vacuum'],
      ['rollback', '1'],
      ['delete-user', '1'],
    ]) {
      expect(errorLine(await runExpecting([...args, '--lake', lake], 1))).toBe(message);
    }
    for (const args of [['snapshot'], ['verify']])
      expect(errorLine(await runExpecting([...args, '--lake', lake], 1))).toBe(message);
    const listed = await runExpecting(['snapshots', '--lake', lake], 1);
    expect(listed.stdout).toMatch(
      /^ +1 .* ingest \(append\) +500 rows +2 files\n +2 .* ingest \(append\) +2500 rows/,
    );
    expect(errorLine(listed)).toBe(message);
    expect(await fileDigests(lake)).toEqual(before);

    expect((await runExpecting(['repair', '--lake', lake], 0)).stdout).toContain(
      'restored _txlake/CURRENT (it was missing): it names snapshot 2 again, the newest committed',
    );
    await runExpecting(['rollback', '1', '--lake', lake], 0);
    expect(await snapshotJson(lake)).toMatchObject({ id: 3, rows: 500 });
  });

  it('without a commit log either, repair lists the candidates and makes the chosen one current', async () => {
    const lake = await copyOfBase('lost-pointer-and-log');
    await fs.rm(path.join(lake, '_txlake', 'CURRENT'));
    await fs.rm(path.join(lake, '_txlake', 'commits.jsonl'));
    const refused = await runExpecting(['ingest', extra, '--lake', lake], 1);
    expect(errorLine(refused)).toMatch(/has 2 snapshot manifests but neither a pointer .* nor a commit log/);
    const listed = await runExpecting(['repair', '--lake', lake], 1);
    expect(errorLine(listed)).toMatch(
      /the snapshots on disk, newest first: 2 \([^)]*ingest, 2500 rows, builds on 1\); 1 \([^)]*ingest, 500 rows\)\. Make one current with `txlake repair --snapshot ID`/,
    );
    const chosen = await runExpecting(['repair', '--snapshot', '2', '--lake', lake], 0);
    expect(chosen.stdout).toContain(
      'wrote a commit log from the snapshot chain of snapshot 2 (snapshots 1–2)',
    );
    expect(chosen.stdout).toContain('restored _txlake/CURRENT (it was missing): it names snapshot 2 again');
    await runExpecting(['ingest', extra, '--lake', lake], 0);
    expect(await snapshotJson(lake)).toMatchObject({ id: 3, rows: 2501 });
  });

  it('a lake made before the commit log existed gets one from its chain at the next write, with a note', async () => {
    const lake = await copyOfBase('no-log');
    await fs.rm(path.join(lake, '_txlake', 'commits.jsonl'));
    await runExpecting(['snapshots', '--lake', lake], 0); // readers go by CURRENT's chain, as before the log
    const result = await runExpecting(['ingest', extra, '--lake', lake], 0);
    expect(result.stderr).toContain(
      'note: the lake had no commit log (made by an earlier txlake, or the log was removed); wrote one from the snapshot chain of CURRENT: snapshots 1, 2',
    );
    const log = (await fs.readFile(path.join(lake, '_txlake', 'commits.jsonl'), 'utf8')).trim().split('\n');
    expect(log.map((line) => JSON.parse(line).id)).toEqual([1, 2, 3]);
  });
});

describe('a lost CURRENT right after a writer was killed around its commit', () => {
  it.each([
    ['committed', 3],
    ['manifest-written', 2],
  ] as const)(
    'killed at %s: nothing can tell whether snapshot 3 committed, so repair asks; --snapshot decides',
    async (point, truth) => {
      const lake = await copyOfBase(`uncertain-${point}`);
      const killed = await runTxlake(['ingest', extra, '--lake', lake], {
        env: { TXLAKE_FAULT_INJECTION: point },
      });
      expect(killed.signal).toBe('SIGKILL');
      await fs.rm(path.join(lake, '_txlake', 'CURRENT'));
      const choose = `\`txlake repair --lake ${lake} --snapshot 3\` or \`txlake repair --lake ${lake} --snapshot 2\``;
      const refusal =
        `error: the lake ${lake} has lost its pointer _txlake/CURRENT; its commit log says snapshot 2 is current; and ` +
        'snapshot 3, built on snapshot 2, is not in the commit log: its writer stopped either just after committing it ' +
        `or just before, and without CURRENT which cannot be known; make the right one current with ${choose}`;
      expect(errorLine(await runExpecting(['ingest', extra, '--lake', lake], 1))).toBe(refusal);
      expect(errorLine(await runExpecting(['repair', '--lake', lake], 1))).toBe(refusal);
      // The operator knows (here: whether the killed ingest had reported its commit).
      const chosen = await runExpecting(['repair', '--snapshot', String(truth), '--lake', lake], 0);
      expect(chosen.stdout).toContain(`it names snapshot ${truth} again, the newest committed`);
      expect(await snapshotJson(lake)).toMatchObject({ id: truth, rows: truth === 3 ? 2501 : 2500 });
      await runExpecting(['vacuum', '--lake', lake], 0);
      const manifests = await fs.readdir(path.join(lake, '_txlake', 'snapshots'));
      expect(manifests.includes('00000003.json')).toBe(truth === 3); // an abandoned write goes, a commit stays
    },
  );

  it("and its manifest damaged: repair asks for the manifest back, or for the log's last snapshot", async () => {
    const lake = await copyOfBase('uncertain-damaged');
    await runTxlake(['ingest', extra, '--lake', lake], { env: { TXLAKE_FAULT_INJECTION: 'committed' } });
    const manifest = path.join(lake, '_txlake', 'snapshots', '00000003.json');
    const pristine = await fs.readFile(manifest);
    await fs.truncate(manifest, 100);
    const refused = await runExpecting(['ingest', extra, '--lake', lake], 1);
    expect(errorLine(refused)).toMatch(
      /names snapshot 3, which the commit log does not list and whose manifest is damaged \(the commit log ends at snapshot 2\); and snapshot 3, newer than the last known commit, has a damaged manifest, so whether it was committed cannot be known: restore _txlake\/snapshots\/00000003.json from a backup/,
    );
    expect(errorLine(await runExpecting(['repair', '--snapshot', '3', '--lake', lake], 1))).toMatch(
      /^error: snapshot 3 cannot be made current: the manifest of snapshot 3 .* is damaged: it is not valid JSON; restore it from a backup first$/,
    );
    await fs.writeFile(manifest, pristine);
    await runExpecting(['verify', '--lake', lake], 0); // committed, not yet logged: whole
    await runExpecting(['ingest', extra, '--force', '--lake', lake], 0);
    expect(await snapshotJson(lake)).toMatchObject({ id: 4, rows: 2502 });
  });
});

describe('a damaged data file (finding 3)', () => {
  it('is never carried into a new snapshot: append and erasure refuse, naming the file; verify reports it', async () => {
    const lake = await copyOfBase('flipped');
    const { files } = await snapshotJson(lake);
    const victim = files[0] as string;
    await flipBytes(path.join(lake, victim));
    const before = await fileDigests(lake);
    const verify = await runExpecting(['verify', '--lake', lake], 1);
    expect(verify.stderr).toContain(
      `problem: ${victim} does not match its checksum (it was changed or damaged)`,
    );
    for (const [args, purpose] of [
      [['ingest', extra], 'append to'],
      [['delete-user', '1'], 'erase a user from'],
    ] as const) {
      const result = await runExpecting([...args, '--lake', lake], 1);
      expect(errorLine(result)).toBe(
        `error: cannot ${purpose} snapshot 2 of the lake ${lake}: its data file ${victim} does not match its checksum ` +
          '(it was changed or damaged); nothing was committed. Restore the file from a backup (then `txlake verify`), ' +
          'or make an intact snapshot current with `txlake rollback ID`',
      );
    }
    expect(await fileDigests(lake)).toEqual(before);
    const repair = await runExpecting(['repair', '--lake', lake], 1);
    expect(errorLine(repair)).toContain(
      `snapshot 2 is damaged: its data file ${victim} does not match its checksum`,
    );
    // Replacing the lake's content is a way out that carries nothing.
    await runExpecting(['ingest', extra, '--mode', 'replace', '--lake', lake], 0);
    expect(await snapshotJson(lake)).toMatchObject({ id: 3, rows: 1 });
  });

  it('a damaged file of the newest snapshot only: the hint names the older snapshot that does not use it', async () => {
    const lake = await copyOfBase('flipped-new');
    const { files } = await snapshotJson(lake);
    const newest = files.at(-1) as string; // written by the append
    await flipBytes(path.join(lake, newest));
    const refused = await runExpecting(['ingest', extra, '--lake', lake], 1);
    expect(errorLine(refused)).toMatch(/`txlake rollback ID` \(snapshot 1 does not use the damaged files\)$/);
    const repair = await runExpecting(['repair', '--lake', lake], 1);
    expect(errorLine(repair)).toMatch(
      /or make snapshot 1 current again with `txlake rollback 1` \(it is intact; newer rows are kept in history\)$/,
    );
    await runExpecting(['rollback', '1', '--lake', lake], 0);
    await runExpecting(['verify', '--lake', lake], 0);
  });

  it('a daily sums file with a flipped byte is refused too (an append merges it)', async () => {
    const lake = await copyOfBase('flipped-sums');
    const manifest = JSON.parse(
      await fs.readFile(path.join(lake, '_txlake', 'snapshots', '00000002.json'), 'utf8'),
    );
    await flipBytes(path.join(lake, manifest.daily_sums.path), 8);
    expect(errorLine(await runExpecting(['ingest', extra, '--lake', lake], 1))).toContain(
      `its daily sums file ${manifest.daily_sums.path} does not match its checksum`,
    );
  });
});

describe('a damaged manifest (finding 4)', () => {
  it('of the current snapshot: writers refuse, and rollback to an intact earlier snapshot is the way out', async () => {
    const lake = await copyOfBase('bad-manifest');
    await fs.writeFile(path.join(lake, '_txlake', 'snapshots', '00000002.json'), '{ "format": "txlake.snap');
    const refused = await runExpecting(['ingest', extra, '--lake', lake], 1);
    expect(errorLine(refused)).toBe(
      `error: the current snapshot of the lake ${lake} cannot be read: the manifest of snapshot 2 ` +
        '(_txlake/snapshots/00000002.json) is damaged: it is not valid JSON; restore it from a backup, or make an ' +
        'intact snapshot current with `txlake rollback ID` (`txlake snapshots` lists them)',
    );
    const listed = await runExpecting(['snapshots', '--lake', lake], 1);
    expect(listed.stdout).toMatch(
      /^\* +2 .* 2500 rows +its manifest \(_txlake\/snapshots\/00000002.json\) is damaged: it is not valid JSON$/m,
    );
    expect((await runExpecting(['rollback', '1', '--lake', lake], 0)).stdout).toBe(
      'snapshot 3 restores snapshot 1 (500 rows) and is now current\n',
    );
    await runExpecting(['verify', '--lake', lake], 0);
    await runExpecting(['ingest', extra, '--lake', lake], 0);
  });

  it('one that still parses but was changed is caught by the commit log', async () => {
    const lake = await copyOfBase('edited-manifest');
    const file = path.join(lake, '_txlake', 'snapshots', '00000002.json');
    const manifest = JSON.parse(await fs.readFile(file, 'utf8'));
    manifest.sources = []; // would make every source "new" again
    await fs.writeFile(file, `${JSON.stringify(manifest, null, 2)}\n`);
    expect(errorLine(await runExpecting(['ingest', extra, '--lake', lake], 1))).toMatch(
      /the manifest of snapshot 2 \(_txlake\/snapshots\/00000002.json\) is not the one committed \(its sha256 differs from the commit log\)/,
    );
    expect(errorLine(await runExpecting(['vacuum', '--lake', lake], 1))).toMatch(/is not the one committed/);
  });

  it('of an older retained snapshot: vacuum keeps everything, as it cannot tell what that snapshot needs', async () => {
    const lake = await copyOfBase('bad-old-manifest');
    await fs.writeFile(path.join(lake, '_txlake', 'snapshots', '00000001.json'), 'x');
    const before = await fileDigests(lake);
    expect(errorLine(await runExpecting(['vacuum', '--lake', lake], 1))).toBe(
      'error: vacuum cannot tell which files the retained snapshot 1 needs: the manifest of snapshot 1 ' +
        '(_txlake/snapshots/00000001.json) is damaged: it is not valid JSON; nothing was removed. Restore the ' +
        'manifest from a backup, or vacuum with a --retain shorter than its age once you accept losing it',
    );
    expect(await fileDigests(lake)).toEqual(before);
    // Once it has expired it goes, like any expired snapshot.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await runExpecting(['vacuum', '--retain', '1s', '--lake', lake], 0);
    await runExpecting(['verify', '--lake', lake], 0);
  });
});

describe('the commit log', () => {
  it('a writer killed between the commit and the log append: the next writer logs the snapshot, with a note', async () => {
    const lake = await copyOfBase('unlogged');
    const killed = await runTxlake(['ingest', extra, '--lake', lake], {
      env: { TXLAKE_FAULT_INJECTION: 'committed' },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect((await snapshotJson(lake)).id).toBe(3); // committed: CURRENT was swapped
    await runExpecting(['verify', '--lake', lake], 0);
    const next = await runExpecting(['vacuum', '--lake', lake], 0);
    expect(next.stderr).toContain(
      'note: recorded snapshot 3 in the commit log (its writer stopped right after committing it)',
    );
    const ids = (await fs.readFile(path.join(lake, '_txlake', 'commits.jsonl'), 'utf8')).trim().split('\n');
    expect(ids.map((line) => JSON.parse(line).id)).toEqual([1, 2, 3]);
  });

  it('a line cut short by a crash is ignored and cut off by the next append', async () => {
    const lake = await copyOfBase('torn-log');
    const log = path.join(lake, '_txlake', 'commits.jsonl');
    await fs.appendFile(log, '{"id":3,"parent":2,"crea');
    await runExpecting(['snapshots', '--lake', lake], 0);
    await runExpecting(['ingest', extra, '--lake', lake], 0);
    const lines = (await fs.readFile(log, 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line).id)).toEqual([1, 2, 3]);
  });

  it('a damaged line is refused by writers and rewritten by repair from the manifests', async () => {
    const lake = await copyOfBase('damaged-log');
    const log = path.join(lake, '_txlake', 'commits.jsonl');
    const lines = (await fs.readFile(log, 'utf8')).split('\n');
    lines[0] = (lines[0] as string).replace('"rows":500', '"rows":501');
    await fs.writeFile(log, lines.join('\n'));
    expect(errorLine(await runExpecting(['ingest', extra, '--lake', lake], 1))).toBe(
      `error: the commit log _txlake/commits.jsonl is damaged at line 1 (the lake ${lake}); run \`txlake repair --lake ${lake}\` ` +
        'to rewrite it from the snapshot manifests',
    );
    const repaired = await runExpecting(['repair', '--lake', lake], 0);
    expect(repaired.stdout).toContain(
      'rewrote the damaged commit log from its intact lines and the snapshot manifests (snapshots 1–2)',
    );
    await runExpecting(['ingest', extra, '--lake', lake], 0);
  });
});

describe('true messages (finding 8)', () => {
  it('reading commands on a lake directory that does not exist say so and exit 1', async () => {
    const missing = path.join(dir, 'no', 'such', 'lake');
    for (const args of [['snapshots'], ['snapshot'], ['verify'], ['repair']]) {
      const result = await runExpecting([...args, '--lake', missing], 1);
      expect(result.stderr.trim()).toBe(
        `error: there is no lake at ${missing} (no such directory); check --lake or TXLAKE_LAKE`,
      );
    }
  });

  it('a lake on a read-only file system: writers say so in one line, readers still work', async () => {
    const mount = path.join(dir, 'read-only');
    await fs.mkdir(mount);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mount]);
    } catch (error) {
      throw new Error(`this test mounts a tmpfs (it runs as root in CI): ${String(error)}`);
    }
    try {
      await fs.cp(base, path.join(mount, 'lake'), { recursive: true });
      execFileSync('mount', ['-o', 'remount,ro', mount]);
      const lake = path.join(mount, 'lake');
      for (const args of [['ingest', extra], ['vacuum'], ['rollback', '1'], ['repair']]) {
        const result = await runExpecting([...args, '--lake', lake], 1);
        expect(result.stderr.trim()).toBe(
          `error: cannot write to the lake ${lake}: it is on a read-only file system; commands that change the lake ` +
            `need to write to ${lake}/_txlake (reading commands and serve do not)`,
        );
      }
      await runExpecting(['verify', '--lake', lake], 0);
      expect((await snapshotJson(lake)).rows).toBe(2500);
    } finally {
      execFileSync('umount', [mount]);
    }
  });
});
