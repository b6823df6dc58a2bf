/**
 * `prm rerank`: best-of-N selection. Each input line is one prompt with N candidate solutions;
 * each output line names the candidate with the highest score under the chosen aggregate (min of
 * the step rewards by default, the usual choice for implicit PRMs) and lists every candidate's
 * score. Candidates the service rejects (an empty step, too long) are reported and left out of
 * the choice instead of failing the whole group.
 */
import type { ScoreCallOptions, PrmClient } from '../client/client.js';
import type { ItemResult, ScoreItem } from '../client/types.js';
import { CONNECTION_OPTIONS, HELP_OPTION, helpText, int, parseOrHelp, type OptionTable } from './args.js';
import { promptLine, type Outcome, type Task } from './runner.js';
import { BATCH_OPTIONS, callOptions, runBatchCommand, scoreIsolating, type Scored } from './score.js';

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
  const { fields: r, id, prompt, bad } = promptLine(record, line);
  const ok = (c: unknown) => typeof c === 'string' || (Array.isArray(c) && c.every((s) => typeof s === 'string'));
  if (!Array.isArray(r.candidates) || r.candidates.length === 0 || !r.candidates.every(ok)) {
    throw bad("'candidates' must be a non-empty list of responses (strings) or step lists");
  }
  return { id, payload: { prompt, candidates: r.candidates as Candidate[] } };
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
  for (let i = 0; i < items.length; i += chunk) scored.push(...(await scoreIsolating(client, items.slice(i, i + chunk), options)));

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
  const parsed = parseOrHelp(argv, OPTIONS, 1, HELP);
  if (parsed === null) return 0;
  const { values, positionals } = parsed;
  const options = callOptions(values);
  const chunk = int(values, 'batch-size', 1);
  return runBatchCommand<Group>(values, positionals, {
    command: 'prm rerank',
    batchSize: 1,
    parse: parseGroup,
    process: (client) => async ([task]) => [await rerankGroup(client, task!, options, chunk)],
  });
}
