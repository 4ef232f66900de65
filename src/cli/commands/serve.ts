// `txlake serve`: the HTTP API over the lake, following new snapshots; SIGTERM finishes in-flight requests.

import type { Command } from 'commander';
import type { ServeOptions } from '../../server/start.js';
import { DEFAULTS, resolveHost, resolveLakeDir, resolvePort } from '../config.js';
import { packageVersion } from '../version.js';

interface ServeFlags {
  lake?: string;
  host?: string;
  port?: string;
  logLevel: string;
}

/** Serve until SIGTERM or SIGINT, then close gracefully. */
export async function serveUntilSignalled(options: ServeOptions): Promise<void> {
  // Loaded on use, so that `--help` and other commands do not pay for Fastify and the engine.
  const { startServer } = await import('../../server/start.js');
  const server = await startServer(options);
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      server.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
      server.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the lake over HTTP (API v1, OpenAPI at /openapi.json, docs at /docs)')
    .option('--lake <dir>', `lake directory (env TXLAKE_LAKE, default ${DEFAULTS.lake})`)
    .option('--host <host>', `address to listen on (env TXLAKE_HOST, default ${DEFAULTS.host})`)
    .option('--port <port>', `port to listen on (env TXLAKE_PORT, default ${DEFAULTS.port})`)
    .option('--log-level <level>', 'pino log level: fatal, error, warn, info, debug', 'info')
    .action(async (flags: ServeFlags) => {
      await serveUntilSignalled({
        lake: resolveLakeDir(flags.lake),
        host: resolveHost(flags.host),
        port: resolvePort(flags.port),
        version: packageVersion(),
        logLevel: flags.logLevel,
      });
    });
}
