/**
 * The scoring contract between the HTTP layer (src/routes) and the core. Field names of the
 * result types are the public API (openapi/openapi.json): snake_case on purpose.
 */

export type Aggregate = 'min' | 'sum' | 'last' | 'mean';
export const AGGREGATES: readonly Aggregate[] = ['min', 'sum', 'last', 'mean'];

/** One trace to score: explicit steps, or a response split by the bundle's step separator. */
export interface ScoreItemInput {
  id?: string;
  prompt: string;
  steps?: string[];
  response?: string;
}

export interface ScoreOptions {
  aggregate?: Aggregate;
  /** Include β·ℓ_i per response token, grouped by step. */
  token_rewards?: boolean;
  /** Overrides the bundle's β for this request. */
  beta?: number;
  /**
   * The trace continues after its last step (step-level search): every step, the last included,
   * gets the step separator and no EOS is appended, so steps 1..k are an exact token prefix of
   * steps 1..k+1 and extending a trace reuses all cached work.
   */
  partial?: boolean;
}

export interface StepResult {
  reward: number;
  q: number;
  value: number;
  tokens: number;
}

export interface ItemResult {
  id: string;
  score: number;
  outcome_reward: number;
  steps: StepResult[];
  token_rewards?: number[][];
  /** Response tokens whose log-probs came from a cache instead of a forward pass. */
  cached_tokens: number;
}

export interface ModelSummary {
  name: string;
  fingerprint: string;
  beta: number;
  reference_free: boolean;
}

export interface ModelInfo extends ModelSummary {
  step_separator: string;
  /** The tokenizer's EOS and pad texts, which /get_reward strips from the end of a response. */
  end_texts: string[];
  max_sequence_length: number;
  graph: 'logits' | 'logprobs';
  execution_provider: string;
  provenance?: Record<string, unknown>;
}

export interface ScoreUsage {
  items: number;
  prompt_tokens: number;
  response_tokens: number;
  cached_tokens: number;
}

export interface ScoreResult {
  model: ModelSummary;
  results: ItemResult[];
  usage: ScoreUsage;
  /** Server-side stage timings in milliseconds (exposed as x-*-time headers). */
  timings: { tokenize_ms: number; queue_ms: number; infer_ms: number; total_ms: number };
}

export interface Readiness {
  ready: boolean;
  /** Per bundle: "loading" | "ready" | "failed: <reason>". */
  models: Record<string, string>;
  /** Non-fatal conditions an operator should see (e.g. "redis unreachable: serving uncached"). */
  degraded: string[];
}

export interface ScoringService {
  /** Loaded, ready models. */
  models(): ModelInfo[];
  /** Name used when a request names no model. */
  defaultModel(): string | undefined;
  readiness(): Readiness;
  score(
    model: string | undefined,
    items: ScoreItemInput[],
    options: ScoreOptions,
    signal?: AbortSignal,
  ): Promise<ScoreResult>;
  close(): Promise<void>;
}
