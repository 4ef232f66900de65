// The project's benchmarks (SPEC §6): one module each, re-exported here so that the benchmarks' program
// (main.ts) loads this tree only when a benchmark is run. A new benchmark adds its module here and a
// subcommand in main.ts.

export {
  formatIngestReport,
  INGEST_TARGET_RATIO,
  type IngestBenchOptions,
  type IngestBenchResult,
  runIngestBench,
} from './ingest.js';
export {
  formatServeReport,
  runServeBench,
  SERVE_TARGET_RATIO,
  SERVE_VARIANTS,
  type ServeBenchOptions,
  type ServeBenchResult,
} from './serve.js';
export {
  type ClickHouseServeBenchResult,
  formatClickHouseServeReport,
  runClickHouseServeBench,
} from './serve-clickhouse.js';
export {
  formatVerifyReport,
  runVerifyBench,
  type VerifyBenchOptions,
  type VerifyBenchResult,
} from './verify.js';
