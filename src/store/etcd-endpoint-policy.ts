// How the etcd client treats its endpoints (etcd3's fault-handling hooks): no retries of its own (the store retries,
// knowing which writes may have applied), and a member that cannot be reached is skipped for a moment, not retried.
import { GRPCUnavailableError, RecoverableError, type IOptions } from 'etcd3';

export type FaultPolicy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;

/** How long an endpoint that refused a connection is left out before it is tried again. */
const SKIP_UNREACHABLE_MS = 1_000;

const noEvents = () => ({ dispose() {} });

/** Runs each call once, as it is. */
export function passThrough(): FaultPolicy {
  return {
    _altReturn: undefined as never,
    onSuccess: noEvents,
    onFailure: noEvents,
    execute: async (fn, signal) => fn({ signal: signal ?? new AbortController().signal }),
  };
}

/** Thrown instead of calling an endpoint that is being skipped; recoverable, so the pool moves on to the next one. */
class EndpointSkipped extends Error {
  readonly [RecoverableError] = true;
  constructor() {
    super('14 UNAVAILABLE: every etcd endpoint was unreachable a moment ago');
  }
}

/**
 * Per endpoint: once a call could not reach it at all (a killed member: connection refused or reset, not an answer
 * from etcd such as "leader changed"), calls skip it for a second and the pool picks the next endpoint at once.
 */
export function skipUnreachable(): FaultPolicy {
  let skipUntil = 0;
  return {
    ...passThrough(),
    async execute(fn, signal) {
      if (Date.now() < skipUntil) throw new EndpointSkipped();
      try {
        return await fn({ signal: signal ?? new AbortController().signal });
      } catch (error) {
        if (error instanceof GRPCUnavailableError && !/etcdserver:/.test(error.message)) skipUntil = Date.now() + SKIP_UNREACHABLE_MS;
        throw error;
      }
    },
  };
}
