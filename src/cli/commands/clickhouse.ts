// ClickHouse on the command line (SPEC §7): the flags every lake operation takes, the sync that follows
// each of them when ClickHouse is configured, and `txlake clickhouse sync|status`.

import type { Command } from 'commander';
import type { ClickHouseConfig } from '../../backends/clickhouse/cluster.js';
import { TxlakeError } from '../../domain/errors.js';
import { LakeLayout } from '../../lake/layout.js';
import { auditDetail } from '../audit.js';
import { DEFAULTS, resolveLakeDir } from '../config.js';
import { printNotice } from '../notices.js';

export interface ClickHouseFlags {
  clickhouseUrl?: string;
  clickhouseCluster?: string;
  clickhouseDatabase?: string;
}

/** The commands that change the lake: with ClickHouse configured, each brings it to the new snapshot. */
const LAKE_OPERATIONS = new Set(['ingest', 'delete-user', 'rollback', 'vacuum', 'repair']);

export function addClickHouseOptions(command: Command): Command {
  return command
    .option(
      '--clickhouse-url <urls>',
      "ClickHouse nodes' HTTP endpoints, comma-separated (env TXLAKE_CLICKHOUSE_URL; writers need every node)",
    )
    .option(
      '--clickhouse-cluster <name>',
      "the cluster of the servers' remote_servers the rows are sharded over (env TXLAKE_CLICKHOUSE_CLUSTER)",
    )
    .option(
      '--clickhouse-database <name>',
      "the database of txlake's tables (env TXLAKE_CLICKHOUSE_DATABASE, default txlake)",
    );
}

export async function clickHouseConfigOf(flags: ClickHouseFlags): Promise<ClickHouseConfig | null> {
  const { resolveClickHouseConfig } = await import('../../backends/clickhouse/cluster.js');
  return resolveClickHouseConfig(flags);
}

/**
 * After a lake operation that succeeded, bring ClickHouse to the lake when it is configured. A failure
 * leaves the lake as the operation made it and exits 4 (SPEC §7), saying how to catch up.
 */
export function syncAfterLakeOperations(program: Command): void {
  for (const command of program.commands)
    if (LAKE_OPERATIONS.has(command.name())) addClickHouseOptions(command);
  program.hook('postAction', async (_program, action) => {
    if (!LAKE_OPERATIONS.has(action.name())) return;
    const flags = action.opts<ClickHouseFlags & { lake?: string; output_file?: string }>();
    const config = await clickHouseConfigOf(flags);
    if (config === null) return;
    const layout = new LakeLayout(resolveLakeDir(flags.lake ?? flags.output_file));
    await syncReporting(layout, config, `the ${action.name()} stands in the lake`);
  });
}

async function syncReporting(layout: LakeLayout, config: ClickHouseConfig, standing: string): Promise<void> {
  const { syncClickHouse } = await import('../../backends/clickhouse/publish.js');
  try {
    const result = await syncClickHouse(layout, config, { notice: printNotice });
    printNotice(describeSync(result));
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new TxlakeError(
      'clickhouse',
      `${standing}, but ClickHouse is behind it: ${reason}; run \`txlake clickhouse sync\` once that is fixed`,
      { cause: error },
    );
  }
}

function describeSync(result: import('../../backends/clickhouse/publish.js').SyncResult): string {
  const parts = [
    result.served === null
      ? `ClickHouse (${result.nodes} nodes) has no snapshot to serve yet`
      : `ClickHouse (${result.nodes} nodes) serves snapshot ${result.served}`,
  ];
  if (result.loadedFiles > 0) parts.push(`loaded ${result.loadedRows} rows from ${result.loadedFiles} files`);
  if (result.published.length > 0) parts.push(`copied snapshots ${result.published.join(', ')}`);
  if (result.dropped.length > 0) parts.push(`dropped snapshots ${result.dropped.join(', ')}`);
  return parts.join('; ');
}

function requireConfig(config: ClickHouseConfig | null): ClickHouseConfig {
  if (config === null)
    throw new TxlakeError(
      'usage',
      'no ClickHouse is configured: set TXLAKE_CLICKHOUSE_URL and TXLAKE_CLICKHOUSE_CLUSTER (or --clickhouse-url and --clickhouse-cluster)',
    );
  return config;
}

export function registerClickHouse(program: Command): void {
  const clickhouse = program
    .command('clickhouse')
    .description('the ClickHouse copy of the lake: catch it up, or see what it serves');

  addClickHouseOptions(
    clickhouse
      .command('sync')
      .description(
        'bring ClickHouse to the lake: copy every retained snapshot, switch to the current one, drop vacuumed ones',
      )
      .option('--lake <dir>', `lake directory (env TXLAKE_LAKE, default ${DEFAULTS.lake})`)
      .option('--json', 'print the outcome as one JSON object'),
  ).action(async (flags: ClickHouseFlags & { lake?: string; json?: boolean }) => {
    const config = requireConfig(await clickHouseConfigOf(flags));
    const layout = new LakeLayout(resolveLakeDir(flags.lake));
    const { syncClickHouse } = await import('../../backends/clickhouse/publish.js');
    const result = await syncClickHouse(layout, config, { notice: printNotice });
    auditDetail({ ...result });
    process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : `${describeSync(result)}\n`);
  });

  addClickHouseOptions(
    clickhouse
      .command('status')
      .description('which snapshot each ClickHouse node serves, and whether that is the lake’s current one')
      .option('--lake <dir>', 'compare with this lake (env TXLAKE_LAKE; default: compare with none)')
      .option('--json', 'print one JSON object')
      .addHelpText(
        'after',
        '\nExit codes: 0 every node serves the lake’s current snapshot (or, without a lake, answers), 4 otherwise.',
      ),
  ).action(async (flags: ClickHouseFlags & { lake?: string; json?: boolean }) => {
    const config = requireConfig(await clickHouseConfigOf(flags));
    const { clickHouseStatus } = await import('../../backends/clickhouse/status.js');
    const lakeDir = flags.lake ?? process.env.TXLAKE_LAKE;
    const { readLakeCopy } = await import('../../backends/clickhouse/lake-copy.js');
    const lake =
      lakeDir === undefined ? undefined : await readLakeCopy(new LakeLayout(resolveLakeDir(lakeDir)));
    const nodes = await clickHouseStatus(config, lake);
    const lakeCurrent = lake?.current;
    const behind = nodes.filter((node) => node.problem !== null || (node.behind ?? null) !== null);
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({ lake_current: lakeCurrent ?? null, up_to_date: behind.length === 0, nodes })}\n`,
      );
    } else {
      for (const node of nodes)
        process.stdout.write(
          node.problem
            ? `${node.url}: ${node.problem}\n`
            : `${node.url}: shard ${node.shard ?? '?'}, serves ${node.served === null ? 'no snapshot yet' : `snapshot ${node.served}`}, holds ${node.snapshots.length === 0 ? 'no snapshots' : `snapshots ${node.snapshots.join(', ')}`} (${node.rows} rows of its shard in ${node.files} files)${node.behind ? `; behind: ${node.behind}` : ''}\n`,
        );
      if (lakeCurrent !== undefined)
        process.stdout.write(
          behind.length === 0
            ? `up to date: ClickHouse serves the lake's current snapshot ${lakeCurrent ?? '(none yet)'} and holds its retained snapshots, nothing else\n`
            : `behind: the lake's current snapshot is ${lakeCurrent ?? '(none yet)'}; run \`txlake clickhouse sync\`\n`,
        );
    }
    if (behind.length > 0) process.exitCode = 4;
  });
}
