// The one catalogue of errors a client can see. Every module throws `ServeError`s made here; the
// server's error middleware turns them into `{"error": {code, message}}` with the status below (a
// stream, GET /stream, sends the same codes in `{"type": "error", code, message}` messages). Anything
// else becomes a 500 whose message never carries internals. The README's error table lists the same
// codes and statuses (test/errors.test.ts keeps them in step).

export const ERRORS = {
  BAD_NPY: 400,
  BAD_AUDIO: 400,
  BAD_QUERY: 400,
  BAD_MESSAGE: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UPGRADE_REQUIRED: 426,
  QUEUE_FULL: 503,
  DEADLINE_EXCEEDED: 503,
  SHUTTING_DOWN: 503,
  TOO_MANY_STREAMS: 503,
  CLIENT_GONE: 499,
  BACKEND_FAILED: 500,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class ServeError extends Error {
  readonly status: number;
  /** Seconds a client should wait before retrying (503s only). */
  readonly retryAfter: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ServeError';
    this.status = ERRORS[code];
    this.retryAfter = options.retryAfter;
  }
}

/** A configuration error: names the variable so start-up can say exactly what to fix. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}
