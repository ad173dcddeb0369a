// Several middlewares run one after the other as one: what a router does for a list of handlers, without a layer,
// a path match and a prefix trim for each of them on every request.
import type { RequestHandler } from 'express';

export function inSequence(handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let index = 0;
    const step = (error?: unknown): void => {
      if (error !== undefined && error !== null) return next(error);
      const handler = handlers[index++];
      if (!handler) return next();
      try {
        // As Express 5 does: a handler's rejected promise is an error passed on.
        const returned: unknown = handler(req, res, step);
        if (returned instanceof Promise) returned.catch((e: unknown) => next(e ?? new Error('rejected promise')));
      } catch (e) {
        next(e);
      }
    };
    step();
  };
}
