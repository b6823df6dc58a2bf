/**
 * The scoring contract between the HTTP layer (src/routes) and the core. Field names of the
 * result types are the public API (openapi/openapi.json): snake_case on purpose.
 */
import type { PrmError } from '../errors.js';

export type Aggregate = 'min' | 'sum' | 'last' | 'mean';
export const AGGREGATES: readonly Aggregate[] = ['min', 'sum', 'last', 'mean'];

/** A trace as text: explicit steps, or a response split by the bundle's step separator. */
export interface TextItemInput {
  id?: string;
  prompt: string;
  steps?: string[];
  response?: string;
}

/**
 * A trace as token ids of the model's own tokenizer, scored exactly as given: no template, no
 * separator, no EOS added. step_ends[k] is the exclusive end of step k in response_ids.
 */
export interface TokenItemInput {
  id?: string;
  prompt_ids: number[];
  response_ids: number[];
  step_ends: number[];
}

/** One trace to score, as text or as token ids. */
export type ScoreItemInput = TextItemInput | TokenItemInput;

/** [start, end) of a token in characters (UTF-16 code units) of the rendered response. */
export type TokenOffset = [number, number];

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
  /** With token_rewards: the token ids the rewards belong to, the same shape. */
  token_ids?: number[][];
  /**
   * With token_rewards: each token's [start, end) in the rendered response (text items); null for
   * token id items, and where the tokenizer's strings do not account for the text.
   */
  token_offsets?: TokenOffset[][] | null;
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
  /**
   * `deadlineAt` (performance.now() time): the request is refused at once, not computed and then
   * answered late, when the queue ahead of it would not let it finish by then.
   */
  score(
    model: string | undefined,
    items: ScoreItemInput[],
    options: ScoreOptions,
    signal?: AbortSignal,
    deadlineAt?: number,
  ): Promise<ScoreResult>;
  /**
   * The refusal a scoring call due by `deadlineAt` would get on the backlog alone, whatever its
   * size, when every ready bundle's queue holds more than the deadline leaves; null when one of
   * them could still admit it. What the HTTP layer asks before it reads a body.
   */
  backlogRefusal(deadlineAt: number): PrmError | null;
  /** The token ids and offsets score() would use for text items, without scoring them. */
  tokenize(
    model: string | undefined,
    items: TextItemInput[],
    options: Pick<ScoreOptions, 'partial'>,
    signal?: AbortSignal,
  ): Promise<TokenizeResult>;
  close(): Promise<void>;
}

/** One text item as the model sees it: what /v1/score would score for it. */
export interface TokenizedItem {
  id: string;
  /** The prompt rendered through the model's template, and its ids. */
  prompt_text: string;
  prompt_ids: number[];
  /** The steps joined by the separator (trailing separator when partial); EOS ids have no text. */
  response_text: string;
  /** Per step: its ids (separator and EOS included) and their offsets into response_text. */
  step_ids: number[][];
  step_offsets: TokenOffset[][] | null;
  /** The same trace as a token id item (response_ids = the steps' ids, concatenated). */
  response_ids: number[];
  step_ends: number[];
  prompt_tokens: number;
  response_tokens: number;
  total_tokens: number;
}

export interface TokenizeResult {
  model: Pick<ModelSummary, 'name' | 'fingerprint'>;
  results: TokenizedItem[];
}
