// /v1/state/image-registry/repositories: what the site registry holds.
import { Router } from 'express';
import type { SiteRegistry } from './index.js';

export function siteRepositoryRoutes(_registry: SiteRegistry): Router {
  return Router();
}
