// What the blob store says went wrong, as values that name no protocol: the /v2 handlers answer them with the
// distribution spec's codes and statuses (http/error-response.ts), /v1 by their kind, as distribution's blob.go maps
// its storage driver's errors at the handler. (A digest or size that does not match what the writer was promised is
// DigestMismatchError/SizeMismatchError, which /v2, pull and the tests name by their code: registry-error.ts.)
import { BerthError } from '../../errors.js';

/** No blob with that digest in the store. */
export class BlobUnknownError extends BerthError {
  constructor(readonly digest: string) {
    super('not-found', `blob ${digest} unknown to registry`, { digest });
    this.name = 'BlobUnknownError';
  }
}

/** A size the store will not take: more bytes than the caller allows, or an expected size that is no size. */
export class SizeOutOfBoundsError extends BerthError {
  constructor(message: string, readonly detail?: Record<string, unknown>) {
    super('invalid-input', message, detail);
    this.name = 'SizeOutOfBoundsError';
  }
}

/** The staging file is gone: committed, aborted, or cancelled while a request was still sending into it. */
export class UploadClosedError extends BerthError {
  constructor(message: string) {
    super('not-found', message);
    this.name = 'UploadClosedError';
  }
}

/** Another write to the same staging file is under way. */
export class UploadBusyError extends BerthError {
  constructor() {
    super('conflict', 'another write to this upload is in progress');
    this.name = 'UploadBusyError';
  }
}
