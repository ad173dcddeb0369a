// Routes of the read-only operations on a remote registry (verify-credentials, list-repositories, list-images).
import { Router } from 'express';
import type { OperationDeps } from '../operation-deps.js';

export function remoteRegistryOperationRoutes(_deps: OperationDeps): Router {
  return Router();
}
