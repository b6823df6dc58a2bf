/**
 * The one error class of the client. It carries the service's error code (the `ErrorCode` names of
 * the API, e.g. EMPTY_STEP, OVERLOADED) so callers branch on codes, not on message text; failures
 * that never reached the service (connection refused, timeout) use the code NETWORK or TIMEOUT
 * with status 0.
 */

export class PrmApiError extends Error {
  /** HTTP status, or 0 when no response came back. */
  readonly status: number;
  /** The service's error code, or NETWORK / TIMEOUT / BAD_RESPONSE for client-side failures. */
  readonly code: string;
  /** Seconds the service asked us to wait (Retry-After on 429/503). */
  readonly retryAfterS?: number;
  /** The parsed error response, when there was one (e.g. /health/ready's model states). */
  body?: Record<string, unknown>;

  constructor(status: number, code: string, message: string, opts: { retryAfterS?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PrmApiError';
    this.status = status;
    this.code = code;
    if (opts.retryAfterS !== undefined) this.retryAfterS = opts.retryAfterS;
  }

  /**
   * Worth sending again after a pause: overload or not-ready (429/503), or a connection that
   * failed. A timeout is not: the same request would most likely time out again.
   */
  get retryable(): boolean {
    return this.status === 429 || this.status === 503 || this.code === 'NETWORK';
  }

  /** The request itself is wrong; sending it again cannot help. */
  get isClientError(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 429;
  }

  /** The `{error: {code, message}}` shape the service uses, for writing error records. */
  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Parses Retry-After (seconds or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}
