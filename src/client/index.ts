/** The typed client of the implicit-prm API; see docs/clients.md. */
export { PrmClient, type CallOptions, type PrmClientOptions, type ScoreCallOptions } from './client.js';
export { PrmApiError, parseRetryAfter } from './errors.js';
export type * from './types.js';
