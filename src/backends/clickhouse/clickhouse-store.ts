// The ClickHouse backend's reader: a stateless API server answers from the snapshot ClickHouse serves (the
// newest row of `served`, polled), needing no lake directory. User lookups are one query over the
// Distributed table, restricted to the served snapshot's files on each shard; daily sums of the served
// snapshot are small and held in memory (netAmount answers need no query). A node down or hung is a
// BackendUnavailable within READ_TIMEOUT_MS, which the HTTP layer answers 503 with Retry-After.
//
// Time travel: ClickHouse holds every snapshot the lake retains, so the view of an older one is the same
// kind of view, restricted to that snapshot's file list, with its own sums. The few asked for last are kept
// (an LRU), each dropped once its snapshot is no longer retained.

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
  type EngineQueryErrors,
  type LookupInfo,
  NoSuchSnapshot,
  SnapshotGone,
  type SnapshotInfo,
  SnapshotUnavailable,
  type SnapshotView,
  type StoreListener,
  type TransactionStore,
} from '../store.js';
import {
  type ClickHouseConfig,
  clickHouseCode,
  clientFor,
  describeClickHouseError,
  intHash64,
  layoutText,
  READ_TIMEOUT_MS,
  READER_GRACE_MS,
  readOrUnavailable,
  readShardWeights,
  sqlCount,
  sqlInt64,
  sqlText,
  withNodesNamed,
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

/** How old a catalog answer may be (the contract: snapshots() reflects a vacuum within 2 s). */
const CATALOG_MAX_AGE_MS = 1_000;

/** Views of snapshots other than the served one kept for time travel (each holds its daily sums). */
const PINNED_VIEWS = 4;

/**
 * How long after the catalog showed a snapshot retained its file lists are sure to be there: the writer
 * drops a vacuumed snapshot's row from every node, then waits READER_GRACE_MS before dropping its lists.
 * Half of it, so the margin covers a lookup that ends late.
 */
const LEASE_MS = READER_GRACE_MS / 2;

/** The retained snapshots as one node's catalog says them. */
interface Catalog {
  /** performance.now() when the catalog was asked for: what it says held at some moment after this. */
  asked: number;
  /** Newest first. */
  list: SnapshotInfo[];
  byId: Map<number, SnapshotInfo>;
  /** The highest snapshot id ever published or switched to (`served` keeps every switch). */
  highest: number;
}

/** Whether a time-travel view's snapshot is still retained, as of a catalog asked for after `notBefore`. */
type Retention = (id: number, notBefore: number) => Promise<number>;

/**
 * The nodes a reader may ask, the one that answered last first: a node that fails hands over to the next.
 * Each node's last failure is kept until it answers again, so that /readyz can say which node the lookups
 * of its shard wait for (the poll asks it again; a lookup it answers clears it too).
 */
class Nodes {
  private active = 0;
  private readonly clients: { url: string; client: ClickHouseClient }[];
  /** Failed queries per node, in the order of the endpoints. */
  readonly errors: EngineQueryErrors[];
  /** Per node: why it last failed (BackendUnavailable), null once it answered since. */
  private readonly failures: (string | null)[];
  private failing = 0;
  private probing = false;

  constructor(config: ClickHouseConfig, timeoutMs: number) {
    this.clients = config.urls.map((url) => ({ url, client: clientFor(url, timeoutMs, config) }));
    this.failures = this.clients.map(() => null);
    this.errors = config.urls.map((_url, index) => ({ node: index + 1, unavailable: 0, failed: 0 }));
  }

  /** Why nodes failed and have not answered since (the first such node's reason), or null. */
  failure(): string | null {
    return this.failing === 0 ? null : (this.failures.find((f) => f !== null) ?? null);
  }

  /**
   * Ask each node that failed whether it answers now (the store's poll calls it; no-op while all answer).
   * Not awaited by the poll: a hung node must not delay following a switch. One probe at a time.
   */
  probeFailed(): void {
    if (this.failing === 0 || this.probing) return;
    this.probing = true;
    void Promise.all(
      this.failures.map((failure, index) =>
        failure === null
          ? null
          : this.runOn(index, async (client) =>
              (await client.query({ query: 'SELECT 1', format: 'JSONEachRow' })).json(),
            ).catch(() => {}),
      ),
    ).finally(() => {
      this.probing = false;
    });
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
    const at = index % this.clients.length;
    const node = this.clients[at] as (typeof this.clients)[number];
    try {
      const answer = await readOrUnavailable(node.url, () => work(node.client));
      // One comparison per request while every node answers.
      if (this.failing !== 0 && this.failures[at] !== null) {
        this.failures[at] = null;
        this.failing--;
      }
      return answer;
    } catch (error) {
      const counted = this.errors[at] as EngineQueryErrors;
      if (error instanceof BackendUnavailable) counted.unavailable++;
      else counted.failed++;
      if (error instanceof BackendUnavailable) {
        if (this.failures[at] === null) this.failing++;
        this.failures[at] = error.message;
        // The next request asks the next node (each node can answer for the whole cluster).
        if (failover) this.active = (this.active + 1) % this.clients.length;
      }
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
    /** For a time-travel view (null for a served one): resolves to the time its snapshot was last seen. */
    private readonly retention: Retention | null = null,
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
    if (this.retention === null) return this.lookUp(userId);
    // A vacuumed snapshot's lists go READER_GRACE_MS after its row: a lookup within LEASE_MS of a catalog
    // that still had the row read whole lists; one that took longer is vouched for by a catalog asked after
    // it (the row goes before the lists). Never a partial answer: SnapshotGone.
    const seen = await this.retention(this.id, performance.now() - CATALOG_MAX_AGE_MS);
    const batch = await this.lookUp(userId);
    if (performance.now() - seen >= LEASE_MS) await this.retention(this.id, performance.now());
    return batch;
  }

  private async lookUp(userId: bigint): Promise<TransactionBatch> {
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
  private catalogCache: Catalog | null = null;
  private catalogLoading: { asked: number; promise: Promise<Catalog> } | null = null;
  /** Time-travel views, least recently used first. */
  private readonly pinned = new Map<number, Promise<ClickHouseSnapshotView>>();

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

  queryErrors(): readonly EngineQueryErrors[] {
    return this.nodes.errors;
  }

  problem(): string | null {
    // Said on /readyz too, which anyone may read: the nodes' addresses are the operator's business (the
    // log has them), so each is named by its place in TXLAKE_CLICKHOUSE_URL.
    // A node that failed and has not answered since: answers that need it are 503s until it is back.
    const failed = this.nodes.failure();
    const problem =
      this.refusal?.split('\n')[0] ??
      (failed === null ? null : `${failed}; answers that need it are 503 until it is back`);
    return problem === null ? null : withNodesNamed(problem, this.urls);
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
    this.nodes.probeFailed();
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
    const daily = await this.loadDailySums(id, Number(served.rows), (sql) => this.read(sql)).catch(
      (error: unknown) => {
        // A state of ClickHouse the store understands: the refusal says it, the log needs no stack.
        throw error instanceof SnapshotUnavailable ? new TxlakeError('clickhouse', error.message) : error;
      },
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
    this.catalogCache = null; // `current` follows the switch at once
    return true;
  }

  /**
   * A snapshot's daily sums, refused (SnapshotUnavailable) unless they add up to its rows and count them:
   * sums being written again by a sync, or written by a txlake before the counts, are never served.
   */
  private async loadDailySums(
    id: number,
    rows: number,
    read: <T>(sql: string) => Promise<T[]>,
  ): Promise<Map<number, DailyMerchantSums[]>> {
    const sums = await read<{
      merchant_type_code: number;
      day: number;
      purchase_cents: string;
      return_cents: string;
      rows: string;
      purchases: string;
      returns: string;
    }>(
      `SELECT merchant_type_code, day, toString(purchase_cents) AS purchase_cents,
         toString(return_cents) AS return_cents, rows, purchases, returns
       FROM ${this.database}.daily_sums WHERE snapshot = ${sqlCount(id)} ORDER BY merchant_type_code, day`,
    );
    let summed = 0n;
    let counted = 0n;
    const daily = dailySumsByMerchant(
      sums.map((row) => {
        summed += BigInt(row.rows);
        counted += BigInt(row.purchases) + BigInt(row.returns);
        return {
          merchantTypeCode: row.merchant_type_code,
          day: row.day,
          purchaseCents: BigInt(row.purchase_cents),
          returnCents: BigInt(row.return_cents),
          purchases: Number(row.purchases),
          returns: Number(row.returns),
        };
      }),
    );
    if (summed !== BigInt(rows))
      throw new SnapshotUnavailable(
        `the daily sums of snapshot ${id} in ClickHouse cover ${summed} of its ${rows} rows (a sync is writing them, or stopped halfway: run \`txlake clickhouse sync\`)`,
      );
    if (counted !== summed)
      throw new SnapshotUnavailable(
        `the daily sums of snapshot ${id} in ClickHouse were published without the purchase and return counts: run \`txlake clickhouse sync\` with this version of txlake`,
      );
    return daily;
  }

  async snapshots(): Promise<SnapshotInfo[]> {
    const catalog = await this.catalog(performance.now() - CATALOG_MAX_AGE_MS);
    // `current` is the snapshot this server answers from, as on the embedded backend: `served` may name a
    // newer one the store has not switched to yet (it polls), and a client told "current" must get it.
    const served = this.view?.id ?? null;
    return catalog.list.map((info) => ({ ...info, current: info.id === served }));
  }

  async viewOf(id: number): Promise<SnapshotView> {
    if (!Number.isSafeInteger(id) || id < 0) throw new NoSuchSnapshot(id);
    const current = this.view;
    if (current !== null && current.id === id) return current;
    const catalog = await this.catalog(performance.now() - CATALOG_MAX_AGE_MS);
    const info = catalog.byId.get(id);
    if (info === undefined) throw id > catalog.highest ? new NoSuchSnapshot(id) : new SnapshotGone(id);
    let view = this.pinned.get(id);
    if (view === undefined) {
      view = this.pin(info);
      view.catch(() => {
        if (this.pinned.get(id) === view) this.pinned.delete(id); // the next request tries again
      });
      this.pinned.set(id, view);
      for (const oldest of this.pinned.keys()) {
        if (this.pinned.size <= PINNED_VIEWS) break;
        this.pinned.delete(oldest);
      }
    } else {
      this.pinned.delete(id); // most recently used last
      this.pinned.set(id, view);
    }
    return view;
  }

  private async pin(info: SnapshotInfo): Promise<ClickHouseSnapshotView> {
    const started = performance.now();
    const daily = await this.loadDailySums(info.id, info.rows, (sql) => this.query(sql));
    return new ClickHouseSnapshotView(
      info.id,
      info.created,
      info.rows,
      this.nodes,
      this.database,
      daily,
      Math.round(performance.now() - started),
      // Shard routing is known once the store has loaded its first snapshot; till then, every shard.
      this.routingChecked ? this.routing : null,
      (id, notBefore) => this.retainedAsOf(id, notBefore),
    );
  }

  /** Resolves to when the catalog that still retains `id` was asked for; SnapshotGone once it does not. */
  private async retainedAsOf(id: number, notBefore: number): Promise<number> {
    const catalog = await this.catalog(notBefore);
    if (!catalog.byId.has(id)) throw new SnapshotGone(id);
    return catalog.asked;
  }

  /** The catalog as of a moment after `notBefore` (performance.now() time), shared by concurrent callers. */
  private catalog(notBefore: number): Promise<Catalog> {
    if (this.catalogCache !== null && this.catalogCache.asked >= notBefore)
      return Promise.resolve(this.catalogCache);
    if (this.catalogLoading !== null && this.catalogLoading.asked >= notBefore)
      return this.catalogLoading.promise;
    const asked = performance.now();
    const promise = this.readCatalog(asked).then((catalog) => {
      if (this.catalogCache === null || this.catalogCache.asked < catalog.asked) {
        this.catalogCache = catalog;
        // A time-travel view of a snapshot no longer retained goes (its lookups would refuse anyway).
        for (const id of this.pinned.keys()) if (!catalog.byId.has(id)) this.pinned.delete(id);
      }
      return catalog;
    });
    const loading = { asked, promise };
    this.catalogLoading = loading;
    const settled = () => {
      if (this.catalogLoading === loading) this.catalogLoading = null;
    };
    promise.then(settled, settled);
    return promise;
  }

  private async readCatalog(asked: number): Promise<Catalog> {
    const db = this.database;
    const [rows, switches] = await this.nodes.run((client) =>
      Promise.all([
        this.queryOn<{ snapshot: string; created: string; operation: string; mode: string; rows: string }>(
          client,
          `SELECT snapshot, created, operation, mode, rows FROM ${db}.snapshots ORDER BY snapshot DESC`,
        ),
        this.queryOn<{ highest: string; served: string; switches: string }>(
          client,
          `SELECT max(snapshot) AS highest, argMax(snapshot, seq) AS served, count() AS switches FROM ${db}.served`,
        ),
      ]),
    );
    const switched = switches[0];
    const served = switched !== undefined && switched.switches !== '0' ? Number(switched.served) : null;
    const list = rows.map((row): SnapshotInfo => {
      const operation = row.operation as SnapshotInfo['operation'];
      return {
        id: Number(row.snapshot),
        created: row.created,
        operation,
        mode: operation === 'ingest' && (row.mode === 'append' || row.mode === 'replace') ? row.mode : null,
        rows: Number(row.rows),
        current: Number(row.snapshot) === served,
      };
    });
    return {
      asked,
      list,
      byId: new Map(list.map((info) => [info.id, info])),
      highest: Math.max(served ?? 0, Number(switched?.highest ?? 0), list[0]?.id ?? 0),
    };
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

  /** A load's query: a node down is the store's problem (a refusal in words), not one request's 503. */
  private async read<T>(sql: string): Promise<T[]> {
    try {
      return await this.query<T>(sql);
    } catch (error) {
      if (error instanceof BackendUnavailable) throw new TxlakeError('clickhouse', error.message);
      throw error;
    }
  }

  /** A small query of the catalog, BackendUnavailable when no node answers. */
  private query<T>(sql: string): Promise<T[]> {
    return this.nodes.run((client) => this.queryOn<T>(client, sql));
  }

  /** A missing table says how txlake's tables come to be. */
  private async queryOn<T>(client: ClickHouseClient, sql: string): Promise<T[]> {
    try {
      return await (await client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
    } catch (error) {
      const code = clickHouseCode(error);
      if (code === '60' || code === '81')
        throw new TxlakeError(
          'clickhouse',
          `ClickHouse has no txlake tables in database ${this.database}: run \`txlake clickhouse sync\` with the lake`,
        );
      // 47 UNKNOWN_IDENTIFIER: tables of an earlier txlake, which its writer had not brought up to date.
      if (code === '47')
        throw new TxlakeError(
          'clickhouse',
          `ClickHouse's txlake tables in database ${this.database} lack columns this txlake reads (${describeClickHouseError(error)}): run \`txlake clickhouse sync\` with this version of txlake`,
        );
      throw error;
    }
  }

  async close(): Promise<void> {
    this.follower?.stop();
    await this.loading?.catch(() => false);
    this.view = null;
    this.pinned.clear();
    await this.nodes.close();
  }
}
