// The access log: one line per request, in the shape of the server's other log lines (pino's: level,
// time, pid, hostname, msg) plus request_id, method, route pattern, status and ms. Written by hand
// rather than through pino: pino's call (bindings, serializers, a JSON.stringify of the fields) cost
// about a fifth of a cached v1 answer's CPU at 13–18k req/s here; this is one template string, because
// every field is safe as it is — the route pattern is escaped once, when its route is registered; a
// request id is a token of [A-Za-z0-9._:-] or a UUID (app.ts); a method is an HTTP token (Node's parser
// takes no other) — and the line goes to the same asynchronous destination as the rest of the log.

import os from 'node:os';

export interface LineSink {
  write(line: string): unknown;
}

/** pino's `info`. */
const INFO = 30;

export class AccessLog {
  private readonly process = `,"pid":${process.pid},"hostname":${JSON.stringify(os.hostname())}`;
  /** Lines of this turn of the event loop, handed to the sink together once it ends. */
  private pending: string[] = [];
  private scheduled = false;
  private readonly flushAtExit = () => this.flush();

  constructor(private readonly sink: LineSink) {
    process.once('exit', this.flushAtExit);
  }

  /**
   * Hand the lines so far to the sink. The destination's own cost is per call (about 4 µs of CPU for
   * each, measured: more than the rest of an access-log line), so a loaded server makes one call per turn
   * of its event loop, for all the requests answered in it.
   */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.sink.write(chunk);
  }

  /** Flush, and stop flushing at exit (the server is closing its log). */
  close(): void {
    this.flush();
    process.off('exit', this.flushAtExit);
  }

  /** A route pattern as the log writes it: its JSON string, made once per route. */
  static routeField(route: string): string {
    return JSON.stringify(route);
  }

  write(requestId: string, method: string, routeField: string, status: number, ms: number): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    this.pending.push(
      `{"level":${INFO},"time":${Date.now()}${this.process},"request_id":"${requestId}","method":"${method}","route":${routeField},"status":${status},"ms":${Math.round(ms * 1000) / 1000},"msg":"request"}\n`,
    );
  }
}
