// The `site` query parameter of state reads and operations (API conventions: "carried out by that site").
// Sites do not exist yet, so every site named is unknown; the parameter is in the contract so clients can use it.
import type { Request } from 'express';
import { notFound } from '../errors.js';

/** Throws `not-found` when the request names a site: none is known until sites are built. */
export function rejectUnknownSite(req: Request): void {
  const site = req.query.site;
  if (typeof site === 'string') throw notFound(`unknown site '${site}'`, { site });
}
