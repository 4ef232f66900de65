// The audit log (issue 12): every lake operation leaves a record of who (OS user, host), when, what and
// the result, in the lake; `txlake log` shows it; an erasure's record holds neither the erased rows nor the
// erased user's id; a line torn by a crash is reported and does not swallow the next record.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawCsv, writeCsvFile } from '../helpers/csv-file.js';
import { assertBuilt, errorLine, runExpecting, runTxlake, TempDirs } from '../helpers/txlake.js';

const temp = new TempDirs();
const ERASED_USER = '8675309123';
const ERASED_AMOUNT = '987654';

interface Record {
  time: string;
  actor: { user: string; host: string; sudo_user?: string };
  pid: number;
  operation: string;
  result: 'ok' | 'refused' | 'failed';
  exit_code: number;
  detail: { [key: string]: unknown };
  error?: string;
}

const run = (args: string[], env: NodeJS.ProcessEnv = {}) => runTxlake(args, { env });
const ok = (args: string[], env: NodeJS.ProcessEnv = {}) => runExpecting(args, 0, { env });

function records(lake: string): Record[] {
  return fs
    .readFileSync(path.join(lake, '_txlake', 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record);
}

let lake = '';
let dir = '';

beforeAll(async () => {
  assertBuilt();
  dir = temp.make();
  lake = path.join(dir, 'lake');
  const header = 'User_id,transaction_type,merchant_type_code,amount_cents,datetime';
  writeCsvFile(
    path.join(dir, 'day1.csv'),
    rawCsv([
      header,
      `${ERASED_USER},PurchaseActivity,5411,${ERASED_AMOUNT},2024-01-02T10:00:00`,
      '42,PurchaseActivity,5411,1000,2024-01-02T11:00:00',
      '43,ReturnActivity,5812,500,2024-01-03T09:30:00',
    ]),
  );
  writeCsvFile(
    path.join(dir, 'day2.csv'),
    rawCsv([header, '44,PurchaseActivity,5999,1,2024-01-04T00:00:00', '45,nonsense,1,2,3']),
  );
  writeCsvFile(path.join(dir, 'broken.csv'), rawCsv(['not,a,header', '1,2,3']));

  await ok(['ingest', path.join(dir, 'day1.csv'), '--lake', lake]);
  await ok(['ingest', path.join(dir, 'day2.csv'), '--lake', lake, '--max-reject-rate', '1']);
  expect((await run(['ingest', path.join(dir, 'broken.csv'), '--lake', lake])).code).toBe(2);
  await ok(['delete-user', ERASED_USER, '--lake', lake]);
  await ok(['rollback', '2', '--lake', lake]);
  await ok(['keys', 'create', 'auditor', '--lake', lake]);
  await ok(['keys', 'revoke', 'auditor', '--lake', lake], { SUDO_USER: 'alice' });
  await ok(['vacuum', '--retain', '0', '--lake', lake]);
  await ok(['repair', '--lake', lake]);
  expect((await run(['rollback', '99', '--lake', lake])).code).not.toBe(0);
});

afterAll(() => temp.cleanup());

describe('the audit log', () => {
  it('records every lake operation in order, with who ran it, where, and how it ended', () => {
    const log = records(lake);
    expect(log.map((r) => `${r.operation} ${r.result}`)).toEqual([
      'ingest ok',
      'ingest ok',
      'ingest refused',
      'delete-user ok',
      'rollback ok',
      'keys create ok',
      'keys revoke ok',
      'vacuum ok',
      'repair ok',
      'rollback refused',
    ]);
    const me = os.userInfo().username;
    for (const record of log) {
      expect(record.actor.user).toBe(me);
      expect(record.actor.host).toBe(os.hostname());
      expect(record.pid).toBeGreaterThan(0);
      expect(Number.isNaN(Date.parse(record.time))).toBe(false);
      expect(record.detail.lake).toBe(path.resolve(lake));
    }
    const times = log.map((r) => Date.parse(r.time));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(log[6]?.actor.sudo_user).toBe('alice');
  });

  it('says what each operation did: counts, snapshots, files, key names', () => {
    const [first, second, broken, erase, rollback, create, revoke, vacuum, repair, refused] = records(lake);
    expect(first?.detail).toMatchObject({
      snapshot: 1,
      rows_read: 3,
      rows_committed: 3,
      rows_rejected: 0,
      mode: 'append',
    });
    expect(first?.detail.files).toEqual([path.join(dir, 'day1.csv')]);
    expect(second?.detail).toMatchObject({ snapshot: 2, rows_read: 2, rows_committed: 1, rows_rejected: 1 });
    expect(broken?.exit_code).toBe(2);
    expect(broken?.error).toMatch(/header/i);
    expect(erase?.detail).toMatchObject({ rows_erased: 1, snapshot: 3 });
    expect(rollback?.detail).toMatchObject({ to: '2', snapshot: 4 });
    expect(create?.detail).toMatchObject({ name: 'auditor', generation: 1 });
    expect(create?.detail.id).toMatch(/^[0-9a-f]{12}$/);
    expect(revoke?.detail).toMatchObject({ name: 'auditor', generation: 2 });
    expect(vacuum?.detail.removed_snapshots).toEqual([1, 2, 3]);
    expect(repair?.detail).toMatchObject({ current: 4 });
    expect(refused?.exit_code).toBe(2);
    expect(refused?.error).toMatch(/99/);
  });

  it("keeps no erased data: neither the erased user's id nor their rows", () => {
    const text = fs.readFileSync(path.join(lake, '_txlake', 'audit.jsonl'), 'utf8');
    expect(text).not.toContain(ERASED_USER);
    expect(text).not.toContain(ERASED_AMOUNT);
  });

  it('txlake log shows the records, filtered by operation or the last N, as text or JSON', async () => {
    const text = (await ok(['log', '--lake', lake])).stdout.trim().split('\n');
    expect(text).toHaveLength(10);
    expect(text[0]).toMatch(
      new RegExp(
        `^\\S+Z  ${os.userInfo().username}@${os.hostname()}  ingest\\s+ok\\s+snapshot 1, 3 rows read, 3 committed, 0 rejected`,
      ),
    );
    expect(text[3]).toMatch(/delete-user\s+ok\s+snapshot 3, 1 rows erased$/);
    expect(text[9]).toMatch(/rollback\s+refused\s+to snapshot 99: /);
    const keys = (await ok(['log', '--lake', lake, '--operation', 'keys'])).stdout.trim().split('\n');
    expect(keys).toHaveLength(2);
    expect(keys[1]).toMatch(/keys revoke\s+ok\s+key "auditor"/);
    const last = (await ok(['log', '--lake', lake, '--last', '2', '--json'])).stdout.trim().split('\n');
    expect(last.map((line) => (JSON.parse(line) as Record).operation)).toEqual(['repair', 'rollback']);
    const bad = await run(['log', '--lake', lake, '--last', 'zero']);
    expect(bad.code).toBe(2);
    const missing = await run(['log', '--lake', path.join(dir, 'nowhere')]);
    expect(missing.code).toBe(1);
    expect(errorLine(missing)).toMatch(/there is no lake at/);
  });

  it('a line torn by a crash is reported, and the next record still starts on its own line', async () => {
    const own = path.join(temp.make(), 'lake');
    await ok(['ingest', path.join(dir, 'day1.csv'), '--lake', own]);
    fs.appendFileSync(path.join(own, '_txlake', 'audit.jsonl'), '{"time":"2026-01-01T00:00:00Z","operat');
    await ok(['vacuum', '--lake', own]);
    const shown = await run(['log', '--lake', own]);
    expect(shown.code).toBe(1);
    expect(
      shown.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/)[2]),
    ).toEqual(['ingest', 'vacuum']);
    expect(errorLine(shown)).toMatch(/audit\.jsonl has 1 damaged line \(2\)/);
  });

  it('an operation on a directory that is no lake records nothing and creates nothing', async () => {
    const empty = temp.make();
    expect((await run(['vacuum', '--lake', empty])).code).not.toBe(0);
    expect(fs.existsSync(path.join(empty, '_txlake', 'audit.jsonl'))).toBe(false);
  });
});
