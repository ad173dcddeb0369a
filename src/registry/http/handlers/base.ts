// GET /v2/: the API version check. Reaching it means the caller passed the access check, which is what
// `docker login` and skopeo use it for.
import type { Request, Response } from 'express';

export async function getBase(_req: Request, res: Response): Promise<void> {
  res.status(200).json({});
}
