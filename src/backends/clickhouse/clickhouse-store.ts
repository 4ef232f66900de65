// The ClickHouse backend's reader: a stateless API server answers from the snapshot ClickHouse serves (the
// newest row of `served`, polled), needing no lake directory. User lookups are one query over the
// Distributed table, restricted to the served snapshot's files on each shard; daily sums of the served
// snapshot are small and held in memory (netAmount answers need no query). A node down or hung is a
// BackendUnavailable within READ_TIMEOUT_MS, which the HTTP layer answers 503 with Retry-After.

import type { ClickHouseClient } from '@clickhouse/client';
import { TxlakeError } from '../../domain/errors.js';
import {
  type DailyMerchantSums,
  dailySumsByMerchant,
  type TransactionBatch,
} from '../../domain/transaction-batch.js';
import { SnapshotFollower } from '../follower.js';
import {
  BackendUnavailable,
  type LookupInfo,
  type SnapshotView,
  type StoreListener,
  type TransactionStore,
} from '../store.js';
import {
  type ClickHouseConfig,
  clickHouseCode,
  clientFor,
  intHash64,
  layoutText,
  READ_TIMEOUT_MS,
  readOrUnavailable,
  readShardWeights,
  sqlCount,
  sqlInt64,
  sqlText,
} from './cluster.js';

export interface ClickHouseStoreOptions {
  clickhouse: ClickHouseConfig;
  /** How often the served snapshot is looked up, in ms (default 500: switches are followed within 2 s). */
  pollIntervalMs?: number;
  /** How long a query may take before the answer is a 503 (default READ_TIMEOUT_MS). */
  requestTimeoutMs?: number;
}

/** Bytes of one row in the RowBinary answer: type UInt8, code UInt16, cents Int64, epoch µs Int64. */
const ROW_BYTES = 1 + 2 + 8 + 8;

/** The nodes a reader may ask, the one that answered last first: a node that fails hands over to the next. */
class Nodes {
  private active = 0;
  private readonly clients: { url: string; client: ClickHouseClient }[];

  constructor(config: ClickHouseConfig, timeoutMs: number) {
    this.clients = config.urls.map((url) => ({ url, client: clientFor(url, timeoutMs, config) }));
  }

  get size(): number {
    return this.clients.length;
  }

  /** Run on the node that answered last (any node answers for the whole cluster). */
  run<T>(work: (client: ClickHouseClient) => Promise<T>): Promise<T> {
    return this.runOn(this.active, work, true);
  }

  /** Run on node `index` (a shard's own node); `failover` moves later requests to the next node. */
  async runOn<T>(
    index: number,
    work: (client: ClickHouseClient) => Promise<T>,
    failover = false,
  ): Promise<T> {
    const node = this.clients[index % this.clients.length] as (typeof this.clients)[number];
    try {
      return await readOrUnavailable(node.url, () => work(node.client));
    } catch (error) {
      // The next request asks the next node (each node can answer for the whole cluster).
      if (failover && error instanceof BackendUnavailable)
        this.active = (this.active + 1) % this.clients.length;
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.client.close().catch(() => {})));
  }
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

/**
 * Which node holds a user's rows, as the Distributed table decides it: slot intHash64(user_id) % total
 * weight, slots given to the shards in order by weight. Known when every shard has a node among the
 * endpoints and the table is sharded as txlake creates it; otherwise lookups go through the Distributed
 * table (to every shard).
 */
export interface ShardRouting {
  /** For each slot, the index (into the endpoints) of a node of the slot's shard. */
  nodeOfSlot: number[];
}

function routedNode(routing: ShardRouting, userId: bigint): number {
  return routing.nodeOfSlot[Number(intHash64(userId) % BigInt(routing.nodeOfSlot.length))] as number;
}

class ClickHouseSnapshotView implements SnapshotView {
  readonly impaired = null;
  readonly lookup: LookupInfo;
  private readonly userSql: (userId: bigint, table: string) => string;

  constructor(
    readonly id: number,
    readonly created: string,
    readonly rows: number,
    private readonly nodes: Nodes,
    database: string,
    private readonly daily: Map<number, DailyMerchantSums[]>,
    loadMs: number,
    private readonly routing: ShardRouting | null,
  ) {
    this.lookup = { kind: 'clickhouse', indexBytes: 0, loadMs, routing: routing ? 'shard' : 'distributed' };
    const snapshot = sqlCount(id);
    // Each shard reads its own copy of the snapshot's file list (a plain IN runs where the rows are).
    this.userSql = (userId, table) =>
      `SELECT transaction_type, merchant_type_code, amount_cents, epoch_us FROM ${database}.${table}
       WHERE user_id = ${sqlInt64(userId)}
         AND file_key IN (SELECT file_key FROM ${database}.snapshot_files WHERE snapshot = ${snapshot})
       ORDER BY epoch_us, transaction_type, merchant_type_code, amount_cents
       FORMAT RowBinary`;
  }

  async transactionsOfUser(userId: bigint): Promise<TransactionBatch> {
    const routing = this.routing;
    const body = routing
      ? // The user's shard alone, from its local table: half the work of a 2-shard fan-out, and no merge.
        await this.nodes.runOn(routedNode(routing, userId), async (client) => {
          const result = await client.exec({ query: this.userSql(userId, 'transactions_local') });
          return readAll(result.stream as AsyncIterable<Buffer>);
        })
      : await this.nodes.run(async (client) => {
          const result = await client.exec({ query: this.userSql(userId, 'transactions') });
          return readAll(result.stream as AsyncIterable<Buffer>);
        });
    const count = body.length / ROW_BYTES;
    if (!Number.isInteger(count))
      throw new Error(`ClickHouse answered ${body.length} bytes, not whole rows of ${ROW_BYTES}`);
    const batch = {
      userId,
      start: 0,
      end: count,
      transactionType: new Uint8Array(count),
      merchantTypeCode: new Uint16Array(count),
      amountCents: new BigInt64Array(count),
      epochMicros: new BigInt64Array(count),
    };
    for (let i = 0, at = 0; i < count; i++, at += ROW_BYTES) {
      batch.transactionType[i] = body[at] as number;
      batch.merchantTypeCode[i] = body.readUInt16LE(at + 1);
      batch.amountCents[i] = body.readBigInt64LE(at + 3);
      batch.epochMicros[i] = body.readBigInt64LE(at + 11);
    }
    return batch;
  }

  async dailySumsOfMerchant(merchantTypeCode: number): Promise<DailyMerchantSums[]> {
    return this.daily.get(merchantTypeCode) ?? [];
  }
}

export class ClickHouseStore implements TransactionStore {
  readonly kind = 'clickhouse' as const;
  private view: ClickHouseSnapshotView | null = null;
  private loading: Promise<boolean> | null = null;
  private refusal: string | null = null;
  private follower: SnapshotFollower | null = null;
  private readonly nodes: Nodes;
  private readonly database: string;
  private readonly pollIntervalMs: number;
  private readonly cluster: string;
  private readonly urls: readonly string[];
  private routing: ShardRouting | null = null;
  private routingChecked = false;

  private constructor(options: ClickHouseStoreOptions) {
    this.cluster = options.clickhouse.cluster;
    this.urls = options.clickhouse.urls;
    this.nodes = new Nodes(options.clickhouse, options.requestTimeoutMs ?? READ_TIMEOUT_MS);
    this.database = options.clickhouse.database;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
  }

  static async open(options: ClickHouseStoreOptions): Promise<ClickHouseStore> {
    return new ClickHouseStore(options);
  }

  current(): SnapshotView | null {
    return this.view;
  }

  problem(): string | null {
    // Said on /readyz too, which anyone may read: the nodes' addresses are the operator's business (the
    // log has them), so each is named by its place in TXLAKE_CLICKHOUSE_URL.
    let problem = this.refusal?.split('\n')[0] ?? null;
    if (problem === null) return null;
    this.urls.forEach((url, index) => {
      // The URL, then its host:port, as a connection error writes it ("connect ECONNREFUSED host:port").
      problem = (problem as string)
        .replaceAll(url, `node ${index + 1}`)
        .replaceAll(new URL(url).host, `node ${index + 1}`);
    });
    return problem;
  }

  async follow(listener: StoreListener): Promise<void> {
    this.follower = new SnapshotFollower(this, listener, this.pollIntervalMs);
    await this.follower.start();
  }

  refresh(): Promise<boolean> {
    this.loading ??= this.load()
      .then(
        (swapped) => {
          this.refusal = null;
          return swapped;
        },
        (error: unknown) => {
          const serving = this.view ? `; still serving snapshot ${this.view.id}` : '';
          this.refusal = `${(error as Error).message}${serving}`;
          throw error;
        },
      )
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  private async load(): Promise<boolean> {
    const started = performance.now();
    const db = this.database;
    const rows = await this.read<{ snapshot: string; created: string; rows: string }>(
      `SELECT snapshot, created, rows FROM ${db}.snapshots
       WHERE snapshot = (SELECT snapshot FROM ${db}.served ORDER BY seq DESC LIMIT 1)`,
    );
    const served = rows[0];
    if (served === undefined) return false; // nothing switched in yet: /readyz says there is no snapshot
    const id = Number(served.snapshot);
    if (id === this.view?.id) return false;
    if (!this.routingChecked) {
      this.routing = await this.discoverRouting();
      this.routingChecked = true;
    }
    const sums = await this.read<{
      merchant_type_code: number;
      day: number;
      purchase_cents: string;
      return_cents: string;
    }>(
      `SELECT merchant_type_code, day, toString(purchase_cents) AS purchase_cents,
         toString(return_cents) AS return_cents
       FROM ${db}.daily_sums WHERE snapshot = ${sqlCount(id)} ORDER BY merchant_type_code, day`,
    );
    const daily = dailySumsByMerchant(
      sums.map((row) => ({
        merchantTypeCode: row.merchant_type_code,
        day: row.day,
        purchaseCents: BigInt(row.purchase_cents),
        returnCents: BigInt(row.return_cents),
      })),
    );
    this.view = new ClickHouseSnapshotView(
      id,
      served.created,
      Number(served.rows),
      this.nodes,
      db,
      daily,
      Math.round(performance.now() - started),
      this.routing,
    );
    return true;
  }

  /**
   * Route lookups to shards when every shard has a node among the endpoints (each node says which shard it
   * is) and the Distributed table shards by intHash64(user_id), as txlake creates it.
   */
  private async discoverRouting(): Promise<ShardRouting | null> {
    const db = this.database;
    const [table] = await this.read<{ engine_full: string }>(
      `SELECT engine_full FROM system.tables WHERE database = ${sqlText(db)} AND name = 'transactions'`,
    );
    if (!table?.engine_full.replaceAll(' ', '').endsWith(',transactions_local,intHash64(user_id))'))
      return null;
    const shards = await this.nodes.run((client) => readShardWeights(client, this.cluster));
    // Rows sit where the layout they were loaded under put them: route only by that layout.
    const [claim] = await this.read<{ layout: string }>(`SELECT layout FROM ${db}.lake`);
    if (claim === undefined || claim.layout !== layoutText(shards)) return null;
    const nodeOfShard = new Map<number, number>();
    for (let index = 0; index < this.nodes.size; index++) {
      const local = await this.nodes
        .runOn(index, async (client) =>
          (
            await client.query({
              query: `SELECT shard_num FROM system.clusters WHERE cluster = ${sqlText(this.cluster)} AND is_local = 1`,
              format: 'JSONEachRow',
            })
          ).json<{ shard_num: number }>(),
        )
        .catch(() => []);
      const shard = local[0]?.shard_num;
      if (shard !== undefined && !nodeOfShard.has(Number(shard))) nodeOfShard.set(Number(shard), index);
    }
    const nodeOfSlot: number[] = [];
    for (const { shard, weight } of shards) {
      const node = nodeOfShard.get(shard);
      if (node === undefined) return null;
      for (let i = 0; i < weight; i++) nodeOfSlot.push(node);
    }
    return nodeOfSlot.length > 0 ? { nodeOfSlot } : null;
  }

  /** A small query of the catalog; a missing table says how txlake's tables come to be. */
  private async read<T>(sql: string): Promise<T[]> {
    try {
      return await this.nodes.run(async (client) =>
        (await client.query({ query: sql, format: 'JSONEachRow' })).json<T>(),
      );
    } catch (error) {
      const code = clickHouseCode(error);
      if (code === '60' || code === '81')
        throw new TxlakeError(
          'clickhouse',
          `ClickHouse has no txlake tables in database ${this.database}: run \`txlake clickhouse sync\` with the lake`,
        );
      if (error instanceof BackendUnavailable) throw new TxlakeError('clickhouse', error.message);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.follower?.stop();
    await this.loading?.catch(() => false);
    this.view = null;
    await this.nodes.close();
  }
}
