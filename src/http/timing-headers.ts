/**
 * Stage timings of a scoring call as response headers (milliseconds), so a client can tell whether
 * a slow answer was spent tokenizing, waiting for a batch or in the forward pass.
 */
import type { FastifyReply } from 'fastify';
import type { ScoreResult } from '../core/types.js';

export const TIMING_HEADERS = {
  tokenize_ms: 'x-tokenize-time',
  queue_ms: 'x-queue-time',
  infer_ms: 'x-inference-time',
  total_ms: 'x-total-time',
} as const satisfies Record<keyof ScoreResult['timings'], string>;

export function setTimingHeaders(reply: FastifyReply, timings: ScoreResult['timings']): void {
  for (const [key, header] of Object.entries(TIMING_HEADERS) as [keyof typeof TIMING_HEADERS, string][]) {
    const ms = timings[key];
    if (Number.isFinite(ms)) reply.header(header, ms.toFixed(3));
  }
}
