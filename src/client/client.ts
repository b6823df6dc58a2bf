/**
 * Typed client of the implicit-prm HTTP API, built on the platform's fetch (Node ≥ 20, browsers)
 * with no dependencies. It adds what every caller would otherwise write again: the API key header,
 * a per-call timeout, and polite retries of overload answers (429/503) that honour Retry-After.
 *
 *   const prm = new PrmClient({ baseUrl: 'http://localhost:8080', apiKey: process.env.PRM_API_KEY });
 *   const { results } = await prm.score([{ prompt: '48+27', steps: ['48+27=75', 'Answer: 75'] }]);
 *
 * Items are text or token ids of the model's tokenizer (TokenItem); tokenize() shows the ids the
 * service scores for text.
 */
import { PrmApiError, parseRetryAfter } from './errors.js';
import type {
  ErrorBody,
  GetRewardRequest,
  GetRewardResponse,
  ItemResult,
  ModelsResponse,
  Readiness,
  ScoreItem,
  ScoreRequest,
  ScoreRequestOptions,
  ScoreResponse,
  TextItem,
  TokenizeRequest,
  TokenizeResponse,
} from './types.js';

export interface PrmClientOptions {
  /** Where the service listens. Default http://127.0.0.1:8080. */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer <key>` (needed when the service sets API_KEYS). */
  apiKey?: string;
  /** Client-side limit for one HTTP call, in milliseconds. Default 60000. */
  timeoutMs?: number;
  /** Retries of 429/503 answers and failed connections. Default 3; 0 disables. */
  maxRetries?: number;
  /** Longest pause between retries, in milliseconds, whatever Retry-After says. Default 10000. */
  maxRetryDelayMs?: number;
  /** Extra headers for every call (tracing ids, a proxy's own auth). */
  headers?: Record<string, string>;
}

export interface CallOptions {
  /** Aborts the call (and its retries). */
  signal?: AbortSignal;
  /** Overrides the client's maxRetries for this call. */
  maxRetries?: number;
}

export interface ScoreCallOptions extends ScoreRequestOptions, CallOptions {
  /** Model name; default: the service's default model. */
  model?: string;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class PrmClient {
  readonly baseUrl: string;
  private readonly apiKey?: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly maxRetryDelayMs: number;
  private readonly headers: Record<string, string>;

  constructor(options: PrmClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    if (options.apiKey) this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.maxRetries = options.maxRetries ?? 3;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 10_000;
    this.headers = options.headers ?? {};
  }

  /** POST /v1/score: rewards for every item, in request order. */
  async score(items: ScoreItem[], options: ScoreCallOptions = {}): Promise<ScoreResponse> {
    const { model, signal, maxRetries, ...scoreOptions } = options;
    const body: ScoreRequest = { items };
    if (model !== undefined) body.model = model;
    // Only options the caller set are sent, so older servers do not see fields they reject.
    const opts = Object.fromEntries(Object.entries(scoreOptions).filter(([, v]) => v !== undefined));
    if (Object.keys(opts).length > 0) body.options = opts;
    return this.request<ScoreResponse>('POST', '/v1/score', body, signal, maxRetries);
  }

  /** Scores one trace given as steps and returns its result. */
  async scoreSteps(prompt: string, steps: string[], options: ScoreCallOptions = {}): Promise<ItemResult> {
    const { results } = await this.score([{ prompt, steps }], options);
    return results[0]!;
  }

  /**
   * POST /tokenize: the token ids (per step, with their offsets in the rendered response) that
   * score() would score for these text items; prompt_ids, response_ids and step_ends of each
   * result are the same trace as a token id item.
   */
  async tokenize(items: TextItem[], options: CallOptions & { model?: string; partial?: boolean } = {}): Promise<TokenizeResponse> {
    const { model, partial, signal, maxRetries } = options;
    const body: TokenizeRequest = { items };
    if (model !== undefined) body.model = model;
    if (partial !== undefined) body.options = { partial };
    return this.request<TokenizeResponse>('POST', '/tokenize', body, signal, maxRetries);
  }

  /** POST /get_reward: the OpenRLHF remote reward model protocol. */
  async getReward(body: GetRewardRequest, options: CallOptions = {}): Promise<GetRewardResponse> {
    return this.request<GetRewardResponse>('POST', '/get_reward', body, options.signal, options.maxRetries);
  }

  /** GET /v1/models: loaded models and the default one. */
  async models(options: CallOptions = {}): Promise<ModelsResponse> {
    return this.request<ModelsResponse>('GET', '/v1/models', undefined, options.signal, options.maxRetries);
  }

  /** GET /health/ready as data: a not-ready service answers `{ready: false, ...}`, not an error. */
  async readiness(options: CallOptions = {}): Promise<Readiness> {
    try {
      return await this.request<Readiness>('GET', '/health/ready', undefined, options.signal, 0);
    } catch (err) {
      if (err instanceof PrmApiError && err.code === 'NOT_READY' && err.body) return err.body as unknown as Readiness;
      throw err;
    }
  }

  /** Resolves once the service is ready; rejects with the last state after `timeoutMs`. */
  async waitUntilReady(timeoutMs = 60_000, pollMs = 250): Promise<Readiness> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const r = await this.readiness();
        if (r.ready) return r;
        last = r;
      } catch (err) {
        last = err;
      }
      if (Date.now() >= deadline) {
        const detail = last instanceof Error ? last.message : JSON.stringify(last);
        throw new PrmApiError(0, 'TIMEOUT', `service at ${this.baseUrl} not ready after ${timeoutMs} ms: ${detail}`);
      }
      await sleep(pollMs);
    }
  }

  private async request<T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal?: AbortSignal,
    maxRetries: number = this.maxRetries,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(method, path, body, signal);
      } catch (err) {
        if (!(err instanceof PrmApiError) || !err.retryable || attempt >= maxRetries || signal?.aborted) throw err;
        // Retry-After when the service gave one, else exponential backoff from 250 ms.
        const wantMs = err.retryAfterS !== undefined ? err.retryAfterS * 1000 : 250 * 2 ** attempt;
        await sleep(Math.min(wantMs, this.maxRetryDelayMs), signal);
      }
    }
  }

  private async once<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const url = this.baseUrl + path;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      if (timeout.aborted) throw new PrmApiError(0, 'TIMEOUT', `${method} ${url}: no answer within ${this.timeoutMs} ms`, { cause: err });
      const reason = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new PrmApiError(0, 'NETWORK', `${method} ${url}: ${reason}`, { cause: err });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok) {
      if (parsed === undefined) throw new PrmApiError(res.status, 'BAD_RESPONSE', `${method} ${url}: answer is not JSON`);
      return parsed as T;
    }
    const error = (parsed as Partial<ErrorBody> | undefined)?.error;
    const retryAfterS = parseRetryAfter(res.headers.get('retry-after'));
    const e = new PrmApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? (text.slice(0, 200) || res.statusText), {
      ...(retryAfterS !== undefined ? { retryAfterS } : {}),
    });
    e.body = parsed as Record<string, unknown> | undefined;
    throw e;
  }
}
