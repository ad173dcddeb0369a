// undici (the connection pools to remote registries, to sites and to the tower) is loaded on first use: a Berth that
// never talks to another server does not pay for it at start (about 10 MiB of memory and 50 ms).
export type Undici = typeof import('undici');

let loading: Promise<Undici> | undefined;

export const loadUndici = (): Promise<Undici> => (loading ??= import('undici'));
