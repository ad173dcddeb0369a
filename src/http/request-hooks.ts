// What runs for every request as it arrives, before Express or a plain read (plain-reads.ts) answers it: the request
// log and the request metrics. Each hook returns what it does once the request is answered or its client left; one
// `close` listener per request runs them all (a listener more on every answer costs measurably).
import type { IncomingMessage, ServerResponse } from 'node:http';

export type RequestHook = (req: IncomingMessage, res: ServerResponse) => () => void;

export function onEveryRequest(hooks: readonly RequestHook[]): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const answered = hooks.map((hook) => hook(req, res));
    // An answer's `close` comes after its `finish`, and alone when the client left first: one listener sees both.
    // `on`, not `once`: `close` comes once, and `once` would wrap the listener anew for every request.
    res.on('close', () => {
      for (const done of answered) done();
    });
  };
}
