/**
 * `prm rerank`: best-of-N selection. Each input line is one prompt with N candidate solutions;
 * each output line names the candidate with the highest score under the chosen aggregate (min of
 * the step rewards by default, the usual choice for implicit PRMs) and lists every candidate's
 * score. Candidates the service rejects (an empty step, too long) are reported and left out of
 * the choice instead of failing the whole group.
 */
import type { ScoreCallOptions, PrmClient } from '../client/client.js';
import { PrmApiError } from '../client/errors.js';
import type { ItemResult, ScoreItem } from '../client/types.js';
import { CONNECTION_OPTIONS, HELP_OPTION, aggregate, helpText, int, parse, positiveNumber, str, type OptionTable } from './args.js';
import { checkService, clientFrom } from './connect.js';
import { InputError, errorInfo, isFatal, runJsonl, type ErrorInfo, type Outcome, type Task } from './runner.js';
import { BATCH_OPTIONS, batchTarget, wantProgress } from './score.js';

const OPTIONS: OptionTable = {
  ...CONNECTION_OPTIONS,
  ...BATCH_OPTIONS,
  aggregate: { type: 'string', short: 'a', value: 'AGG', default: 'min', help: 'Rank by min, sum, last or mean of the step rewards' },
  'batch-size': { type: 'string', short: 'b', value: 'N', default: '64', help: 'Most candidates per request (larger groups are split)' },
  beta: { type: 'string', value: 'B', help: "β instead of the model's (does not change the ranking)" },
  ...HELP_OPTION,
};

const HELP = helpText(
  ['prm rerank [INPUT] [options] > best.jsonl', 'prm rerank INPUT --out best.jsonl [options]'],
  `Picks the best of N candidates per prompt. An input line is
  {"id"?: "...", "prompt": "...", "candidates": ["response", ...] or [["step", ...], ...]}
(a candidate is a response string, split by the model's step separator, or a list of steps).
Each output line is
  {"id", "best", "best_score", "best_candidate", "aggregate", "scores", "outcome_rewards", "step_rewards", "errors"?}
where best is the index of the chosen candidate (the first one on ties), scores[i] is candidate
i's score (null if the service rejected it; see errors) and step_rewards[i] its per-step rewards.
Groups that cannot be ranked become {"id", "line", "error"} lines; the other groups go on.
--out, --resume and the exit status work as in 'prm score'.`,
  OPTIONS,
);

type Candidate = string | string[];

interface Group {
  prompt: string;
  candidates: Candidate[];
}

export function parseGroup(record: unknown, line: number): { id: string; payload: Group } {
  if (!record || typeof record !== 'object' || Array.isArray(record)) throw new InputError('INVALID_REQUEST', 'line is not a JSON object');
  const r = record as Record<string, unknown>;
  const id = typeof r.id === 'string' ? r.id : typeof r.id === 'number' ? String(r.id) : String(line);
  const bad = (message: string) => new InputError('INVALID_REQUEST', message, id);
  if (typeof r.prompt !== 'string') throw bad("'prompt' must be a string");
  const ok = (c: unknown) => typeof c === 'string' || (Array.isArray(c) && c.every((s) => typeof s === 'string'));
  if (!Array.isArray(r.candidates) || r.candidates.length === 0 || !r.candidates.every(ok)) {
    throw bad("'candidates' must be a non-empty list of responses (strings) or step lists");
  }
  return { id, payload: { prompt: r.prompt, candidates: r.candidates as Candidate[] } };
}

type Scored = { result: ItemResult } | { error: ErrorInfo };

/** Scores candidates, isolating the ones the service rejects as bad requests. */
async function scoreCandidates(client: PrmClient, items: ScoreItem[], options: ScoreCallOptions): Promise<Scored[]> {
  try {
    const res = await client.score(items, options);
    return res.results.map((result) => ({ result }));
  } catch (err) {
    if (!(err instanceof PrmApiError) || !err.isClientError || isFatal(err)) throw err;
    if (items.length === 1) return [{ error: errorInfo(err) }];
  }
  const out: Scored[] = [];
  for (const item of items) out.push(...(await scoreCandidates(client, [item], options)));
  return out;
}

export async function rerankGroup(
  client: PrmClient,
  task: Task<Group>,
  options: ScoreCallOptions & { aggregate: string },
  chunk: number,
): Promise<Outcome> {
  const { prompt, candidates } = task.payload;
  const items: ScoreItem[] = candidates.map((c, i) =>
    Array.isArray(c) ? { id: String(i), prompt, steps: c } : { id: String(i), prompt, response: c },
  );
  const scored: Scored[] = [];
  for (let i = 0; i < items.length; i += chunk) scored.push(...(await scoreCandidates(client, items.slice(i, i + chunk), options)));

  let best = -1;
  scored.forEach((s, i) => {
    if ('result' in s && (best < 0 || s.result.score > (scored[best] as { result: ItemResult }).result.score)) best = i;
  });
  const errors = scored.flatMap((s, index) => ('error' in s ? [{ index, ...s.error }] : []));
  if (best < 0) return { error: { code: errors[0]!.code, message: `no candidate could be scored: ${errors[0]!.message}` } };
  const pick = <T>(f: (r: ItemResult) => T) => scored.map((s) => ('result' in s ? f(s.result) : null));
  return {
    record: {
      id: task.id,
      best,
      best_score: (scored[best] as { result: ItemResult }).result.score,
      best_candidate: candidates[best],
      aggregate: options.aggregate,
      scores: pick((r) => r.score),
      outcome_rewards: pick((r) => r.outcome_reward),
      step_rewards: pick((r) => r.steps.map((s) => s.reward)),
      ...(errors.length > 0 ? { errors } : {}),
    },
  };
}

export async function rerankCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, 1);
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const options: ScoreCallOptions & { aggregate: string } = { aggregate: aggregate(values) };
  const model = str(values, 'model');
  if (model) options.model = model;
  const beta = positiveNumber(values, 'beta');
  if (beta !== undefined) options.beta = beta;
  const concurrency = int(values, 'concurrency', 1);
  const chunk = int(values, 'batch-size', 1);

  const client = clientFrom(values);
  await checkService(client, model);
  return runJsonl<Group>({
    command: 'prm rerank',
    input: positionals[0] ?? '-',
    ...batchTarget(values),
    concurrency,
    batchSize: 1,
    progress: wantProgress(values),
    parse: parseGroup,
    process: async ([task]) => [await rerankGroup(client, task!, options, chunk)],
  });
}
