/**
 * `prm score`: per-step rewards for a JSON Lines file of traces, one result line per input line.
 * Lines are sent in batches (--batch-size items per request) with --concurrency requests in
 * flight. When a batch is rejected as a bad request, its items are sent one by one so that only
 * the bad item gets an error line and its neighbours are still scored.
 */
import type { ItemResult, ScoreItem } from '../client/types.js';
import type { PrmClient, ScoreCallOptions } from '../client/client.js';
import { PrmApiError } from '../client/errors.js';
import type { Aggregate } from '../client/types.js';
import { CONNECTION_OPTIONS, HELP_OPTION, aggregate, helpText, int, parseOrHelp, positiveNumber, str, type OptionTable, type Parsed } from './args.js';
import { checkService, clientFrom } from './connect.js';
import { errorInfo, promptLine, isFatal, runJsonl, type ErrorInfo, type Outcome, type RunSpec, type Task } from './runner.js';

export const BATCH_OPTIONS: OptionTable = {
  out: { type: 'string', short: 'o', value: 'FILE', help: 'Append results to FILE and skip ids already in it (resume); default stdout' },
  resume: { type: 'string', value: 'FILE', help: 'Skip ids already finished in FILE (e.g. with >> FILE)' },
  overwrite: { type: 'boolean', help: 'With --out: start FILE afresh instead of resuming it' },
  concurrency: { type: 'string', short: 'c', value: 'N', default: '4', help: 'Requests in flight' },
  progress: { type: 'boolean', help: 'Draw the progress bar even when stderr is not a terminal' },
  'no-progress': { type: 'boolean', help: 'Never draw the progress bar' },
};

const OPTIONS: OptionTable = {
  ...CONNECTION_OPTIONS,
  ...BATCH_OPTIONS,
  'batch-size': { type: 'string', short: 'b', value: 'N', default: '16', help: 'Lines per request' },
  aggregate: { type: 'string', short: 'a', value: 'AGG', default: 'min', help: 'Response score: min, sum, last or mean of the step rewards' },
  'token-rewards': { type: 'boolean', help: 'Also return β·ℓ per response token, grouped by step' },
  beta: { type: 'string', value: 'B', help: "β instead of the model's" },
  ...HELP_OPTION,
};

const HELP = helpText(
  ['prm score [INPUT] [options] > out.jsonl', 'prm score INPUT --out out.jsonl [options]'],
  `Scores every line of INPUT (a JSON Lines file, or - / nothing for stdin). An input line is
  {"id"?: "...", "prompt": "...", "steps": ["...", ...]}  or  {"id"?: ..., "prompt": ..., "response": "..."}
(the id defaults to the line number). Each output line is the API's result for that line:
  {"id", "score", "outcome_reward", "cached_tokens", "steps": [{"reward", "q", "value", "tokens"}], "token_rewards"?}
in the order results arrive. A line that cannot be scored (bad JSON, an empty step, a trace too
long for the model) becomes {"id", "line", "error": {"code", "message"}} and a message on stderr;
the other lines go on.

Resuming: with --out FILE, lines whose id already has a result in FILE are skipped and error lines
are retried, so after Ctrl-C, a crash or failed lines, run the same command again.

Exit status: 0 all lines scored; 1 some lines failed; 2 bad usage, or the service was unreachable,
refused the key or lacks the model (nothing more could succeed); 130 interrupted.`,
  OPTIONS,
);

interface Payload {
  item: ScoreItem;
}

/** Checks the shape of one input line; the service checks the rest (empty steps, lengths). */
export function parseTrace(record: unknown, line: number): { id: string; payload: Payload } {
  const { fields: r, id, prompt, bad } = promptLine(record, line);
  const hasSteps = r.steps !== undefined;
  if (hasSteps === (r.response !== undefined)) throw bad("need exactly one of 'steps' or 'response'");
  if (hasSteps) {
    if (!Array.isArray(r.steps) || !r.steps.every((s) => typeof s === 'string')) {
      throw bad("'steps' must be a list of strings");
    }
    return { id, payload: { item: { id, prompt, steps: r.steps as string[] } } };
  }
  if (typeof r.response !== 'string') throw bad("'response' must be a string");
  return { id, payload: { item: { id, prompt, response: r.response } } };
}

export type Scored = { result: ItemResult } | { error: ErrorInfo };

/** Scores items in one call; on a bad-request answer, item by item, so only the bad ones fail. */
export async function scoreIsolating(client: PrmClient, items: ScoreItem[], options: ScoreCallOptions): Promise<Scored[]> {
  try {
    const res = await client.score(items, options);
    return res.results.map((result) => ({ result }));
  } catch (err) {
    if (!(err instanceof PrmApiError) || !err.isClientError || isFatal(err)) throw err;
    if (items.length === 1) return [{ error: errorInfo(err) }];
  }
  const out: Scored[] = [];
  for (const item of items) out.push(...(await scoreIsolating(client, [item], options)));
  return out;
}

/** One outcome per line of a batch (scoreIsolating). */
export async function scoreBatch(client: PrmClient, batch: Task<Payload>[], options: ScoreCallOptions): Promise<Outcome[]> {
  const scored = await scoreIsolating(client, batch.map((t) => t.payload.item), options);
  return scored.map((s) => ('result' in s ? { record: { ...s.result } } : s));
}

export async function scoreCommand(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(argv, OPTIONS, 1, HELP);
  if (parsed === null) return 0;
  const { values, positionals } = parsed;
  const options = callOptions(values);
  if (values['token-rewards']) options.token_rewards = true;
  return runBatchCommand<Payload>(values, positionals, {
    command: 'prm score',
    batchSize: int(values, 'batch-size', 1),
    parse: parseTrace,
    process: (client) => (batch) => scoreBatch(client, batch, options),
  });
}

/** The scoring options `prm score` and `prm rerank` both take: aggregate, model, β. */
export function callOptions(values: Parsed['values']): ScoreCallOptions & { aggregate: Aggregate } {
  const options: ScoreCallOptions & { aggregate: Aggregate } = { aggregate: aggregate(values) };
  const model = str(values, 'model');
  if (model) options.model = model;
  const beta = positiveNumber(values, 'beta');
  if (beta !== undefined) options.beta = beta;
  return options;
}

/** The JSON Lines run of a batch command against a checked service (runner.ts). */
export async function runBatchCommand<P>(
  values: Parsed['values'],
  positionals: string[],
  o: { command: string; batchSize: number; parse: RunSpec<P>['parse']; process(client: PrmClient): RunSpec<P>['process'] },
): Promise<number> {
  const concurrency = int(values, 'concurrency', 1);
  const client = clientFrom(values);
  await checkService(client, str(values, 'model'));
  return runJsonl<P>({
    command: o.command,
    input: positionals[0] ?? '-',
    ...batchTarget(values),
    concurrency,
    batchSize: o.batchSize,
    progress: wantProgress(values),
    parse: o.parse,
    process: o.process(client),
  });
}

export function batchTarget(values: Record<string, string | boolean | undefined>) {
  const out = str(values, 'out');
  const resume = str(values, 'resume');
  return { ...(out ? { out } : {}), ...(resume ? { resume } : {}), overwrite: values.overwrite === true };
}

export function wantProgress(values: Record<string, string | boolean | undefined>): boolean {
  if (values['no-progress']) return false;
  return values.progress === true || process.stderr.isTTY === true;
}
