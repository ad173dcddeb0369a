// What every /v2 handler shares: the route parameters the router extracted, and helpers for the request's
// query and for building the Location URLs the spec asks for (relative to where the router is mounted).
import type { Request, Response } from 'express';

export interface RouteParams {
  /** The repository name, already validated. */
  name: string;
  /** The last path segment, decoded: a tag or digest, a blob digest, or an upload session id. */
  reference: string;
  /** Who is calling: the token's name; absent for an anonymous pull. */
  client?: string;
}

export type RouteHandler = (req: Request, res: Response, params: RouteParams) => Promise<void>;

/** Parsed independently of the app's query parser setting, so repeated parameters (`?tag=a&tag=b`) are reliable. */
export const queryOf = (req: Request): URLSearchParams => new URL(req.originalUrl, 'http://registry.invalid').searchParams;

/** `/v2/<name>` as the client addressed it. */
export const repositoryPath = (req: Request, name: string): string => `${req.baseUrl}/${name}`;

/** Ends a response that has no body, with an explicit zero length (clients read it on 201/202/204). */
export function endEmpty(res: Response, status: number): void {
  res.status(status);
  if (status !== 204) res.setHeader('Content-Length', '0');
  res.end();
}
