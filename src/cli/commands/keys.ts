// `txlake keys create|list|revoke`: the API keys of the servers following the lake (SPEC §5). The lake keeps
// their digests (lake/keys.ts); with ClickHouse configured, each change is copied there too, for servers
// that follow ClickHouse instead of the lake.

import type { Command } from 'commander';
import { type KeyFile, type KeyRecord, parseKeyName } from '../../domain/api-keys.js';
import { TxlakeError } from '../../domain/errors.js';
import { currentActor } from '../../lake/audit.js';
import { LakeLayout } from '../../lake/layout.js';
import { auditDetail } from '../audit.js';
import { DEFAULTS, resolveLakeDir } from '../config.js';
import { printNotice } from '../notices.js';
import { addClickHouseOptions, type ClickHouseFlags, clickHouseConfigOf } from './clickhouse.js';

const LAKE_HELP = `lake directory (env TXLAKE_LAKE, default ${DEFAULTS.lake})`;

type KeysFlags = ClickHouseFlags & { lake?: string; json?: boolean };

/** A short, harmless handle on a key: the start of its digest (which reveals nothing of the key). */
function keyId(record: Pick<KeyRecord, 'sha256'>): string {
  return record.sha256.slice(0, 12);
}

/** Copy the key file to ClickHouse when it is configured; a failure leaves the lake changed and exits 4. */
async function copyToClickHouse(flags: KeysFlags, file: KeyFile): Promise<void> {
  const config = await clickHouseConfigOf(flags);
  if (config === null) return;
  const { publishKeys } = await import('../../backends/clickhouse/keys.js');
  try {
    const nodes = await publishKeys(config, file);
    printNotice(`ClickHouse (${nodes} nodes) has the change (key generation ${file.generation})`);
  } catch (error) {
    throw new TxlakeError(
      'clickhouse',
      `the key change stands in the lake, but ClickHouse does not have it: ${(error as Error).message.split('\n')[0]}; run \`txlake clickhouse sync\` once that is fixed (until then servers following ClickHouse use the keys they had)`,
      { cause: error },
    );
  }
}

function describeKey(record: KeyRecord): string {
  const state =
    record.revoked === null ? 'active' : `revoked ${record.revoked} by ${record.revoked_by?.user}`;
  return `${record.name.padEnd(24)} ${keyId(record)}  created ${record.created} by ${record.created_by.user}@${record.created_by.host}  ${state}`;
}

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('API keys of the servers following this lake: create, list, revoke')
    .addHelpText(
      'after',
      `
Once a key exists (active or revoked), every /api request (and /metrics) needs \`Authorization: Bearer KEY\`
with an active key; servers notice a created or revoked key within 2 s. Only each key's SHA-256 digest is
kept, in <lake>/_txlake/keys.json (removing that file opens the API again).`,
    );

  addClickHouseOptions(
    keys
      .command('create')
      .description('create a key and print it (once: only its digest is kept)')
      .argument('<name>', 'who or what the key is for (letters, digits, . _ -)')
      .option('--lake <dir>', LAKE_HELP)
      .option('--json', 'print {"name", "key", "id"} instead of the key alone'),
  ).action(async (nameText: string, flags: KeysFlags) => {
    const name = parseKeyName(nameText);
    const layout = new LakeLayout(resolveLakeDir(flags.lake));
    const { createKey } = await import('../../lake/keys.js');
    const change = await createKey(layout, name, currentActor());
    auditDetail({ id: keyId(change.record), generation: change.file.generation });
    // The key alone on stdout (`KEY=$(txlake keys create ci)`), everything else on stderr.
    process.stdout.write(
      flags.json
        ? `${JSON.stringify({ name, key: change.key, id: keyId(change.record) })}\n`
        : `${change.key}\n`,
    );
    printNotice(
      `created key "${name}" (id ${keyId(change.record)}); it is shown only now, so store it: servers following the lake accept it within 2 s`,
    );
    await copyToClickHouse(flags, change.file);
  });

  keys
    .command('list')
    .description('list the keys (names, ids, who created them, revoked or active); never the keys themselves')
    .option('--lake <dir>', LAKE_HELP)
    .option('--json', 'print a JSON array')
    .action(async (flags: KeysFlags) => {
      const { readKeyFile } = await import('../../lake/keys.js');
      const { lakeRootExists } = await import('../../lake/snapshots.js');
      const layout = new LakeLayout(resolveLakeDir(flags.lake));
      if (!(await lakeRootExists(layout)))
        throw new TxlakeError(
          'lake',
          `there is no lake at ${layout.root} (no such directory); check --lake or TXLAKE_LAKE`,
        );
      const file = await readKeyFile(layout);
      const records = file?.keys ?? [];
      if (flags.json) {
        const listed = records.map(({ sha256, ...record }) => ({
          ...record,
          id: keyId({ sha256 }),
          active: record.revoked === null,
        }));
        process.stdout.write(`${JSON.stringify(listed)}\n`);
      } else if (records.length === 0) {
        process.stdout.write(
          'no keys: the API is open to anyone who can reach it (`txlake keys create NAME`)\n',
        );
      } else {
        for (const record of records) process.stdout.write(`${describeKey(record)}\n`);
      }
    });

  addClickHouseOptions(
    keys
      .command('revoke')
      .description('revoke a key: servers refuse it within 2 s')
      .argument('<name>', 'the key to revoke')
      .option('--lake <dir>', LAKE_HELP),
  ).action(async (nameText: string, flags: KeysFlags) => {
    const layout = new LakeLayout(resolveLakeDir(flags.lake));
    const { revokeKey } = await import('../../lake/keys.js');
    const change = await revokeKey(layout, nameText, currentActor());
    auditDetail({ id: keyId(change.record), generation: change.file.generation });
    const left = change.file.keys.filter((key) => key.revoked === null).length;
    process.stdout.write(
      `revoked key "${nameText}"; servers refuse it within 2 s (${left === 0 ? 'no key is active now: servers refuse every API request until one is created' : `${left} active key${left === 1 ? '' : 's'} left`})\n`,
    );
    await copyToClickHouse(flags, change.file);
  });
}
