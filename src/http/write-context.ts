// The context a write made through the API carries into the store: the authenticated caller and the request id
// (the X-Request-Id of its log lines) and the method. Routes pass it to ConfigList and the token registry with every
// write; the store keeps it with the write and audits the write (src/audit/).
import type { Request } from 'express';
import type { Principal } from '../auth/principal.js';
import type { ChangeAuthor, WriteContext } from '../store/config-store.js';

/** The store keeps who the caller is, not their role (what they could do then), so an audit shows what state shows. */
export function authorOf(principal: Principal): ChangeAuthor {
  if (principal.sso) return { kind: 'sso', name: principal.name, subject: principal.sso.subject, issuer: principal.sso.issuer };
  return { kind: 'token', name: principal.name };
}

export function writeContextOf(req: Request): WriteContext | undefined {
  if (!req.principal) return undefined;
  return { author: authorOf(req.principal), requestId: String(req.id), method: req.method };
}
