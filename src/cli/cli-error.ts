// The ways a berth command ends badly, each with its exit code: the API refused (1), the command was wrong (2),
// Berth could not be reached (3), the person pressed Ctrl-C (130). main.ts prints the message as one line.

export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3, interrupted: 130 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    /** Shown under the message with `-v` (the API's error-info, as YAML). */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A command the CLI cannot carry out as written; nothing was sent. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** No answer from Berth: refused connection, unknown host, TLS failure, timeout. */
export class UnreachableError extends CliError {
  constructor(message: string) {
    super(message, EXIT.unreachable);
  }
}

/** Berth answered with an error. */
export class RefusedError extends CliError {
  constructor(message: string, detail?: string) {
    super(message, EXIT.refused, detail);
  }
}

/** Ctrl-C: what was going on at Berth is left to stop (a pull nobody waits for stops). */
export class InterruptedError extends CliError {
  constructor(message: string) {
    super(message, EXIT.interrupted);
  }
}
