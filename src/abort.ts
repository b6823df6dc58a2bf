/**
 * Turns an aborted AbortSignal into the PrmError a client sees. The HTTP layer aborts with a
 * PrmError (kept as is), with AbortSignal.timeout (a DOMException named "TimeoutError": the request
 * deadline passed) or with anything else (the client went away).
 */
import { ErrorCode, PrmError } from './errors.js';

export function abortError(signal: AbortSignal): PrmError {
  const reason: unknown = signal.reason;
  if (reason instanceof PrmError) return reason;
  if (typeof reason === 'object' && reason !== null && (reason as { name?: unknown }).name === 'TimeoutError') {
    return new PrmError(ErrorCode.DEADLINE_EXCEEDED, 'the request deadline passed before scoring finished', { cause: reason });
  }
  return new PrmError(ErrorCode.CLIENT_CLOSED, 'the client closed the request', { cause: reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}
