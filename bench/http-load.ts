/**
 * Closed-loop HTTP load: `concurrency` workers each send their next request as soon as the last
 * one answered, over keep-alive connections (a new TCP connection per request would measure the
 * kernel, not the service). Records, per request, the client-side latency and the server's own
 * stage timings from the x-*-time headers.
 */
import { Agent, request } from 'node:http';
import type { ScoreRequest as ClientScoreRequest, ItemResult, ScoreResponse } from '../src/client/types.js';
import { closedLoop } from '../test/harness/closed-loop.js';
import type { Item } from './workloads.js';

/** The service's result of one trace, as the client types name it. */
export type ResultOut = ItemResult;

export interface RequestSample {
  items: number;
  clientMs: number;
  /** x-total-time etc.; NaN when the header is missing. */
  serverTotalMs: number;
  serverQueueMs: number;
  serverInferMs: number;
  responseTokens: number;
  cachedTokens: number;
}

export interface LoadResult {
  wallS: number;
  samples: RequestSample[];
  results: ResultOut[];
}

/** One request of a pass: the client's request body with the bench's traces; the pass names the model. */
export type ScoreRequest = Omit<ClientScoreRequest, 'model' | 'items'> & { items: Item[] };

/** One POST /v1/score; rejects on a non-200 answer with the server's error body. */
function post(agent: Agent, port: number, body: string): Promise<{ json: ScoreResponse; headers: Record<string, unknown>; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/score',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const ms = performance.now() - t0;
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new Error(`POST /v1/score → ${res.statusCode}: ${text.slice(0, 500)}`));
            return;
          }
          resolve({ json: JSON.parse(text) as ScoreResponse, headers: res.headers, ms });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function headerMs(headers: Record<string, unknown>, name: string): number {
  const v = headers[name];
  return typeof v === 'string' ? Number(v) : Number.NaN;
}

/** Sends every request (in order, `concurrency` at a time); results come back in request order. */
export async function runLoad(port: number, model: string, requests: ScoreRequest[], concurrency: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const bodies = requests.map((r) => JSON.stringify({ model, items: r.items, options: r.options ?? {} }));
  const samples: RequestSample[] = new Array(requests.length);
  const perRequest: ResultOut[][] = new Array(requests.length);
  let next = 0;
  const t0 = performance.now();
  const take = () => (next < bodies.length ? next++ : null);
  try {
    await closedLoop(Math.min(concurrency, bodies.length), take, async (i) => {
      const { json, headers, ms } = await post(agent, port, bodies[i]);
      perRequest[i] = json.results;
      samples[i] = {
        items: requests[i].items.length,
        clientMs: ms,
        serverTotalMs: headerMs(headers, 'x-total-time'),
        serverQueueMs: headerMs(headers, 'x-queue-time'),
        serverInferMs: headerMs(headers, 'x-inference-time'),
        responseTokens: json.usage.response_tokens,
        cachedTokens: json.usage.cached_tokens,
      };
    });
  } finally {
    agent.destroy();
  }
  return { wallS: (performance.now() - t0) / 1000, samples, results: perRequest.flat() };
}

export function quantile(xs: readonly number[], q: number): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  // nearest-rank: p99 of 64 samples is the largest, never an interpolation below it
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))];
}
