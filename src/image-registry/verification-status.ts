// The outcome of the last verify-credentials per remote registry, kept in memory and shown as the non-config leaf
// `last-verification` of the registry's state. Operational state, not configuration: a restart forgets it.

/** What `last-verification` shows. Never holds a credential: messages come from typed errors that carry none. */
export interface LastVerification {
  /** When the verification finished. */
  time: string;
  success: boolean;
  /** The image whose manifest was checked, when one was given. */
  image?: string;
  /** The digest of that image's manifest (or index), on success with an image. */
  digest?: string;
  'error-message'?: string;
  'error-type'?: string;
}

export class VerificationLog {
  private readonly last = new Map<string, LastVerification>();

  record(address: string, verification: LastVerification): void {
    this.last.set(address, verification);
  }

  /** The last verification of the registry at `address`, if it was ever verified since Berth started. */
  get(address: string): LastVerification | undefined {
    return this.last.get(address);
  }
}
