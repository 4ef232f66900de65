// Where a server's log lines go: stdout, written asynchronously. pino's default writes each line with a
// synchronous write(2), which at thousands of requests a second makes the event loop wait on the
// terminal or pipe; sonic-boom (pino's own destination) queues lines while a write is in flight and writes
// them together in the next one, so under load the access log costs one write per batch, not per line.
// Lines stay in order (one writer per process). Whatever is queued is flushed on stop and on exit.

import pino from 'pino';

export interface LogDestination extends pino.DestinationStream {
  /** Wait until every queued line is written. */
  close(): Promise<void>;
}

export function logDestination(): LogDestination {
  const stream = pino.destination({ dest: 1, sync: false });
  const flushAtExit = () => {
    try {
      stream.flushSync();
    } catch {
      // a write still in flight: what it holds is being written by the kernel already
    }
  };
  process.once('exit', flushAtExit);
  return Object.assign(stream, {
    close: () =>
      new Promise<void>((resolve) => {
        process.off('exit', flushAtExit);
        stream.flush(() => resolve());
      }),
  });
}
