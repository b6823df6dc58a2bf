/**
 * Every error a client can see is defined here once, with its HTTP status. Routes never pick a
 * status themselves: they throw PrmError and the error handler in src/app.ts maps it.
 */

export const ErrorCode = {
  // 400: the request itself is wrong
  INVALID_JSON: 'INVALID_JSON',
  INVALID_REQUEST: 'INVALID_REQUEST',
  EMPTY_STEPS: 'EMPTY_STEPS',
  EMPTY_STEP: 'EMPTY_STEP',
  EMPTY_PROMPT: 'EMPTY_PROMPT',
  TOKEN_ID_OUT_OF_RANGE: 'TOKEN_ID_OUT_OF_RANGE',
  INVALID_OPTION: 'INVALID_OPTION',
  // 401/403
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  // 404
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  ROUTE_NOT_FOUND: 'ROUTE_NOT_FOUND',
  // 405
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  // 408: the client was too slow sending its request (HEADERS_TIMEOUT_MS, BODY_TIMEOUT_MS)
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  // 413: too large
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  TOO_MANY_ITEMS: 'TOO_MANY_ITEMS',
  SEQUENCE_TOO_LONG: 'SEQUENCE_TOO_LONG',
  TOO_MANY_TOKENS: 'TOO_MANY_TOKENS',
  // 415
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  // 422: the new files of a bundle do not load; the version already loaded keeps serving
  RELOAD_FAILED: 'RELOAD_FAILED',
  // 429/503: overload, with Retry-After
  RATE_LIMITED: 'RATE_LIMITED',
  OVERLOADED: 'OVERLOADED',
  NOT_READY: 'NOT_READY',
  // 499: the client went away (logged only; nobody reads the body)
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  // 504
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  // 500: our fault
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  EMPTY_STEPS: 400,
  EMPTY_STEP: 400,
  EMPTY_PROMPT: 400,
  TOKEN_ID_OUT_OF_RANGE: 400,
  INVALID_OPTION: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  MODEL_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  BODY_TOO_LARGE: 413,
  TOO_MANY_ITEMS: 413,
  SEQUENCE_TOO_LONG: 413,
  TOO_MANY_TOKENS: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RELOAD_FAILED: 422,
  RATE_LIMITED: 429,
  OVERLOADED: 503,
  NOT_READY: 503,
  CLIENT_CLOSED: 499,
  DEADLINE_EXCEEDED: 504,
  INTERNAL: 500,
};

export class PrmError extends Error {
  readonly code: ErrorCode;
  /** Seconds a client should wait before retrying (429/503). */
  readonly retryAfterS?: number;

  constructor(code: ErrorCode, message: string, opts: { retryAfterS?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PrmError';
    this.code = code;
    this.retryAfterS = opts.retryAfterS;
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}
