// Routes of the pull operation (per remote registry, and by full image reference).
import { Router } from 'express';
import type { OperationDeps } from '../operation-deps.js';

export function pullRoutes(_deps: OperationDeps): Router {
  return Router();
}
