/**
 * The batch loop shared by `prm score` and `prm rerank`: read JSON lines, skip work already in the
 * output file, send batches with bounded concurrency, write one line per input (a result or an
 * error) as soon as it is known, and stop cleanly on Ctrl-C so that running the same command again
 * resumes. Per-line failures never stop the run; only failures that would make every line fail
 * (service unreachable, bad key, unknown model) do.
 *
 * Exit codes: 0 every line succeeded; 1 some lines failed (error lines written); 2 usage error or
 * the run stopped early (service unreachable, unauthorized, unknown model); 130 interrupted.
 */
import { PrmApiError } from '../client/errors.js';
import { LineWriter, countLines, loadFinished, readLines } from './jsonl.js';
import { Progress } from './progress.js';

export interface Task<P> {
  id: string;
  /** 1-based input line number. */
  line: number;
  payload: P;
}

export interface ErrorInfo {
  code: string;
  message: string;
}

export type Outcome = { record: Record<string, unknown> } | { error: ErrorInfo };

/** Thrown by `parse` for a line that cannot be sent; becomes that line's error record. */
export class InputError extends Error {
  /** The line's id, when it could be read before the line was found wrong. */
  constructor(readonly code: string, message: string, readonly id?: string) {
    super(message);
  }
}

export interface RunSpec<P> {
  command: string;
  input: string;
  /** Results go to this file (appended; finished ids skipped) instead of stdout. */
  out?: string;
  /** Skip the ids already finished in this file (output still to --out or stdout). */
  resume?: string;
  /** Start --out afresh instead of resuming it. */
  overwrite: boolean;
  concurrency: number;
  /** Tasks per call of `process`. */
  batchSize: number;
  progress: boolean;
  /** A parsed input line → id and payload; throws InputError. `line` is the default id. */
  parse(record: unknown, line: number): { id: string; payload: P };
  /** One outcome per task, in order. Throwing fails the whole batch (or stops the run, see isFatal). */
  process(batch: Task<P>[]): Promise<Outcome[]>;
}

/** Errors that every further line would hit too. */
export function isFatal(err: unknown): err is PrmApiError {
  return (
    err instanceof PrmApiError &&
    ['NETWORK', 'UNAUTHORIZED', 'FORBIDDEN', 'MODEL_NOT_FOUND', 'ROUTE_NOT_FOUND'].includes(err.code)
  );
}

export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof PrmApiError || err instanceof InputError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

export async function runJsonl<P>(spec: RunSpec<P>): Promise<number> {
  const started = Date.now();
  const resumeFrom = spec.out !== undefined && !spec.overwrite ? spec.out : spec.resume;
  // Compacting rewrites the file we then append to; a --resume file is only read.
  const { done, dropped } = resumeFrom ? await loadFinished(resumeFrom, resumeFrom === spec.out) : { done: new Set<string>(), dropped: 0 };
  const writer = new LineWriter(spec.out, spec.overwrite);
  const progress = new Progress(await countLines(spec.input), spec.progress);
  if (dropped > 0) progress.log(`${spec.command}: retrying ${dropped} failed or incomplete lines from ${resumeFrom}`);

  let ok = 0;
  let failed = 0;
  let skipped = 0;
  let fatal: PrmApiError | undefined;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: stop now
    interrupted = true;
    progress.log(`${spec.command}: interrupted; finishing requests in flight (Ctrl-C again to quit now)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const fail = (task: { id: string; line: number }, error: ErrorInfo) => {
    failed++;
    writer.write({ id: task.id, line: task.line, error });
    progress.log(`${spec.command}: line ${task.line} (id ${task.id}): ${error.code}: ${error.message}`);
    progress.tick(0, 1);
  };

  const runBatch = async (batch: Task<P>[]) => {
    let outcomes: Outcome[];
    try {
      outcomes = await spec.process(batch);
    } catch (err) {
      if (isFatal(err)) {
        fatal ??= err;
        return; // not written: these lines are retried when the command runs again
      }
      outcomes = batch.map(() => ({ error: errorInfo(err) }));
    }
    batch.forEach((task, i) => {
      const o = outcomes[i]!;
      if ('error' in o) fail(task, o.error);
      else {
        ok++;
        writer.write(o.record);
        progress.tick(1);
      }
    });
  };

  const inflight = new Set<Promise<void>>();
  const launch = async (batch: Task<P>[]) => {
    while (inflight.size >= spec.concurrency) await Promise.race(inflight);
    const p = runBatch(batch).finally(() => inflight.delete(p));
    inflight.add(p);
  };

  let batch: Task<P>[] = [];
  try {
    for await (const { line, text } of readLines(spec.input)) {
      if (interrupted || fatal) break;
      let task: Task<P>;
      try {
        let record: unknown;
        try {
          record = JSON.parse(text);
        } catch (err) {
          throw new InputError('INVALID_JSON', `not JSON: ${(err as Error).message}`);
        }
        task = { line, ...spec.parse(record, line) };
      } catch (err) {
        const id = (err instanceof InputError && err.id) || String(line);
        if (!done.has(id)) fail({ id, line }, errorInfo(err));
        continue;
      }
      if (done.has(task.id)) {
        skipped++;
        progress.tick(1);
        continue;
      }
      batch.push(task);
      if (batch.length >= spec.batchSize) {
        await launch(batch);
        batch = [];
      }
    }
    if (batch.length > 0 && !interrupted && !fatal) await launch(batch);
    await Promise.all(inflight);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress.finish();
    await writer.close();
  }

  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const skippedText = skipped > 0 ? `, ${skipped} already in ${resumeFrom}` : '';
  process.stderr.write(`${spec.command}: ${ok} done, ${failed} failed${skippedText} in ${secs}s\n`);
  if (fatal) {
    process.stderr.write(`${spec.command}: stopped: ${fatal.code}: ${fatal.message}\n`);
    if (spec.out) process.stderr.write(`${spec.command}: run the same command again to resume\n`);
    return 2;
  }
  if (interrupted) {
    if (spec.out) process.stderr.write(`${spec.command}: run the same command again to resume\n`);
    return 130;
  }
  return failed > 0 ? 1 : 0;
}
