/**
 * Wire types of the HTTP API as a client sees them (snake_case, like the JSON). The result types
 * are the service's own contract types, re-exported so that client and server cannot drift apart.
 */
import type {
  Aggregate,
  ItemResult,
  ModelInfo,
  ModelSummary,
  Readiness,
  ScoreItemInput,
  ScoreOptions,
  ScoreUsage,
  StepResult,
  TokenizedItem,
  TokenizeResult,
  TokenOffset,
} from '../core/types.js';

export type { Aggregate, ItemResult, ModelInfo, ModelSummary, Readiness, ScoreUsage, StepResult, TokenizedItem, TokenOffset };

/** One trace as text: explicit steps, or a response the server splits by the model's step separator. */
export type TextItem =
  | { id?: string; prompt: string; steps: string[]; response?: never }
  | { id?: string; prompt: string; response: string; steps?: never };

/**
 * One trace as token ids of the model's tokenizer (the policy's, for a PRM that shares it), scored
 * exactly as given: no template, separator or EOS added. step_ends[k] is the exclusive end of
 * step k in response_ids; the last one is response_ids.length.
 */
export interface TokenItem {
  id?: string;
  prompt_ids: number[];
  response_ids: number[];
  step_ends: number[];
}

export type ScoreItem = TextItem | TokenItem;

export interface ScoreRequestOptions extends ScoreOptions {
  /** Server-side deadline for this request, in milliseconds. */
  timeout_ms?: number;
}

export interface ScoreRequest {
  model?: string;
  items: ScoreItem[];
  options?: ScoreRequestOptions;
}

export interface ScoreResponse {
  model: ModelSummary;
  results: ItemResult[];
  usage: ScoreUsage;
}

/** POST /tokenize: what /v1/score would score for text items. */
export interface TokenizeRequest {
  model?: string;
  items: TextItem[];
  options?: { partial?: boolean };
}

export type TokenizeResponse = TokenizeResult;

export interface ModelsResponse {
  default_model: string | null;
  models: ModelInfo[];
}

/** POST /get_reward, OpenRLHF's remote reward model protocol. */
export interface GetRewardRequest {
  query: string[];
  prompts?: string[];
  labels?: unknown[];
  model?: string;
  aggregate?: Aggregate;
  beta?: number;
  /** An over-long sample: scored on the steps that fit (right), the end of its prompt (left), or the fallback (error). */
  truncate?: 'right' | 'left' | 'error';
  /** Reward of a sample that cannot be scored (default: the server's GET_REWARD_FALLBACK). */
  fallback_reward?: number;
}

export interface GetRewardResponse {
  rewards: number[];
  scores: number[];
  extra_logs: { outcome_reward?: number[]; num_steps?: number[]; scored?: number[]; truncated?: number[] };
  step_rewards: number[][];
  /** Per sample: null, or why it got the fallback reward (or was truncated). */
  errors: ({ code: string; message: string } | null)[];
}

export interface ErrorBody {
  error: { code: string; message: string };
}

// A compile-time check that ScoreItem stays assignable to what the service accepts.
const _itemsFit = (item: ScoreItem): ScoreItemInput => item;
void _itemsFit;
