// Whether the secret store can be read: the states the seal monitor tracks, the API's 503 is made of and the
// metrics report, every one of them listed.
export const SEAL_STATES = ['unsealed', 'sealed', 'unreachable'] as const;
export type SealState = (typeof SEAL_STATES)[number];
