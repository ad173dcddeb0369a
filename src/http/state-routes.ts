// The read side of a state tree beside its config list (`/state/...` of `/config/...`): GET of the list and of one
// entry with the API's read options, and `content=config|nonconfig|all` splitting each entry the way the contract
// does: its config fields are the properties of the config schema, every other field is non-config, the key stays.
import type { Router } from 'express';
import { componentSchema } from '../contract/openapi.js';
import { sendAnswer } from './answer.js';
import { readOptions, shapeList, shapeOne, type ContentFilter } from './query-options.js';

export type ContentFilterOf<T> = (state: T, content: ContentFilter) => Partial<T>;

/** The `content` filter of states whose config part is the contract's schema `configSchema`, keyed by `keyField`. */
export function contentFilter<T extends object>(configSchema: string, keyField: string): ContentFilterOf<T> {
  const configFields = new Set(Object.keys(componentSchema(configSchema).properties ?? {}));
  return (state, content) => {
    if (content === 'all') return state;
    const wanted = ([field]: [string, unknown]) => field === keyField || (content === 'config') === configFields.has(field);
    return Object.fromEntries(Object.entries(state).filter(wanted)) as Partial<T>;
  };
}

export interface StateRoutes<T extends object> {
  /** The list's path, e.g. `/state/sites`; one entry is `${path}/:key`. */
  path: string;
  /** The contract's schema of one state entry (what `fields` may name). */
  stateSchema: string;
  /** The contract's schema of the configuration the state carries. */
  configSchema: string;
  keyField: keyof T & string;
  /** The whole list; absent when the caller routes the list itself (paging, selectors). */
  list?: () => Promise<T[]>;
  get: (key: string) => Promise<T>;
}

/** Mounts the GETs of a state tree; returns its content filter for a list route of the caller's own. */
export function mountStateRoutes<T extends object>(router: Router, routes: StateRoutes<T>): ContentFilterOf<T> {
  const schema = componentSchema(routes.stateSchema);
  const filter = contentFilter<T>(routes.configSchema, routes.keyField);
  const keyOf = (state: Partial<T>) => String(state[routes.keyField] ?? '');
  const { list } = routes;
  if (list) {
    router.get(routes.path, async (req, res) => {
      const options = readOptions(req, schema);
      sendAnswer(req, res, 200, shapeList((await list()).map((s) => filter(s, options.content)), options, keyOf));
    });
  }
  router.get(`${routes.path}/:key`, async (req, res) => {
    const options = readOptions(req, schema);
    sendAnswer(req, res, 200, shapeOne(filter(await routes.get(String(req.params.key)), options.content), options));
  });
  return filter;
}
