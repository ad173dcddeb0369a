// express-openapi-validator (5.6.2) finds a request's operation by compiling every route of the contract with
// path-to-regexp, on every request, until one matches: most of its cost per request, and the more so the further
// down the document the route is. Compiling is pure (same route and options, same regular expression), so the
// compiled form is kept per route here. Upstream: cdimascio/express-openapi-validator pull request #1217
// ("perf: cache route matchers"); drop this file once a release has it.
import { createRequire } from 'node:module';

type Compiled = { regexp: RegExp; keys: unknown[] };
type PathToRegexp = (path: unknown, options?: Record<string, unknown>) => Compiled;

const CACHED = Symbol('berth route matcher cache');

/** Caches path-to-regexp's `pathToRegexp` as the validator resolves it; idempotent. */
export function cacheValidatorRouteMatchers(): void {
  const validatorRequire = createRequire(import.meta.resolve('express-openapi-validator'));
  const module = validatorRequire('path-to-regexp') as { pathToRegexp: PathToRegexp & { [CACHED]?: true } };
  if (module.pathToRegexp[CACHED]) return;
  const compile = module.pathToRegexp;
  // Route -> compiled form for each combination of the two flags the validator passes (case-sensitive, strict).
  const cache = new Map<string, (Compiled | undefined)[]>();
  const cached = (path: unknown, options?: Record<string, unknown>): Compiled => {
    // Only the calls the validator makes (a string route; `sensitive` and `strict` alone) are cached; the regular
    // expressions have no `g` or `y` flag, so sharing one keeps no state between requests.
    if (typeof path !== 'string') return compile(path, options);
    for (const key in options) if (key !== 'sensitive' && key !== 'strict') return compile(path, options);
    const flags = (options?.sensitive ? 1 : 0) | (options?.strict ? 2 : 0);
    let slots = cache.get(path);
    if (!slots) cache.set(path, (slots = []));
    return (slots[flags] ??= compile(path, options));
  };
  module.pathToRegexp = Object.assign(cached, { [CACHED]: true as const });
}
