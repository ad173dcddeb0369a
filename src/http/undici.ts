// undici (the connection pools to remote registries, to sites and to the tower) is loaded on first use: a Berth that
// never talks to another server does not pay for it at start (about 10 MiB of memory and 50 ms).
import { createRequire } from 'node:module';
import { Lazy } from '../lazy.js';

export type Undici = typeof import('undici');

// Required, not imported: an ES import that failed (EMFILE while reading undici's files) stays failed for the life of
// the process, where a failed require is tried again at the next call. Resolved now, so that its package.json is read
// at start: read later, out of file descriptors, it fails with a code (ERR_INVALID_PACKAGE_CONFIG) that hides why.
const require = createRequire(import.meta.url);
const entry = require.resolve('undici');
const undici = new Lazy<Undici>(async () => require(entry) as Undici);

export const loadUndici = (): Promise<Undici> => undici.get();
