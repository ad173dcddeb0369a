// Errors vault-dev answers with, carrying the exact status code and `errors` strings Vault sends.
// Vault wraps some errors in go-multierror ("1 error occurred:\n\t* ...\n\n"); `wrapped` reproduces that.

export class VaultError extends Error {
  constructor(
    readonly status: number,
    readonly errors: readonly string[],
  ) {
    super(errors[0] ?? `status ${status}`);
    this.name = 'VaultError';
  }
}

/** The text go-multierror produces, which Vault puts in `errors` for core-level failures. */
export function multierrorText(messages: readonly string[]): string {
  if (messages.length === 1) return `1 error occurred:\n\t* ${messages[0]}\n\n`;
  return `${messages.length} errors occurred:\n\t${messages.map((m) => `* ${m}`).join('\n\t')}\n\n`;
}

/** A backend "ErrorResponse": the message is sent as is. */
export const badRequest = (message: string) => new VaultError(400, [message]);

/** A core error Vault returns through multierror. */
export const wrapped = (status: number, ...messages: string[]) => new VaultError(status, [multierrorText(messages)]);

export const permissionDenied = () => wrapped(403, 'permission denied');
export const invalidToken = () => wrapped(403, 'permission denied', 'invalid token');
export const unsupportedPath = () => wrapped(404, 'unsupported path');
export const unsupportedOperation = () => wrapped(405, 'unsupported operation');
export const sealedError = () => new VaultError(503, ['Vault is sealed']);
/** Missing resources: Vault answers 404 with an empty error list. */
export const notFound = () => new VaultError(404, []);
export const methodNotAllowed = () => new VaultError(405, []);
