// `Expect: 100-continue` without a broken wire. Node sends the 100 itself unless the server listens for
// 'checkContinue'. For a pipelined request (its response queued behind another one) Node buffers the 100,
// and when the final answer's body is a Buffer, as txlake's answers are, it puts the answer's head before
// the buffered 100 (OutgoingMessage._send unshifts the head): the 100 lands inside the body and every later
// answer on the connection is misframed. So the 100 goes only to the request being answered now; a
// pipelined request's content is on the wire already, where RFC 9110 §10.1.1 lets a server omit it.
// Requests without the expectation never reach this listener: they pay nothing.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export function answerExpectContinue(server: Server): void {
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    // Node assigns the socket to the response it is answering now; a queued one has none yet.
    if (response.socket !== null) response.writeContinue();
    server.emit('request', request, response);
  });
}
