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

/** An input line read as an object with a string prompt, its id, and how to refuse the rest of it. */
export interface PromptLine {
  fields: Record<string, unknown>;
  id: string;
  prompt: string;
  bad(message: string): InputError;
}

/** The checks every input line gets: a JSON object with a string `prompt`; the id defaults to the line number. */
export function promptLine(record: unknown, line: number): PromptLine {
  if (!record || typeof record !== 'object' || Array.isArray(record)) throw new InputError('INVALID_REQUEST', 'line is not a JSON object');
  const r = record as Record<string, unknown>;
  const id = typeof r.id === 'string' ? r.id : typeof r.id === 'number' ? String(r.id) : String(line);
  const bad = (message: string) => new InputError('INVALID_REQUEST', message, id);
  if (typeof r.prompt !== 'string') throw bad("'prompt' must be a string");
  return { fields: r, id, prompt: r.prompt, bad };
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
  const run = new JsonlRun(spec, done, new LineWriter(spec.out, spec.overwrite), new Progress(await countLines(spec.input), spec.progress));
  if (dropped > 0) run.progress.log(`${spec.command}: retrying ${dropped} failed or incomplete lines from ${resumeFrom}`);
  await run.all();
  return run.summary(resumeFrom, ((Date.now() - started) / 1000).toFixed(1));
}

/** One run's counts and state: what has been written, what is in flight, why it stopped. */
class JsonlRun<P> {
  ok = 0;
  failed = 0;
  skipped = 0;
  fatal: PrmApiError | undefined;
  interrupted = false;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly spec: RunSpec<P>,
    private readonly done: ReadonlySet<string>,
    private readonly writer: LineWriter,
    readonly progress: Progress,
  ) {}

  private readonly onSignal = (): void => {
    if (this.interrupted) process.exit(130); // a second Ctrl-C: stop now
    this.interrupted = true;
    this.progress.log(`${this.spec.command}: interrupted; finishing requests in flight (Ctrl-C again to quit now)`);
  };

  /** Reads every line and sends its batches; returns once the last answer is written. */
  async all(): Promise<void> {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    let batch: Task<P>[] = [];
    try {
      for await (const { line, text } of readLines(this.spec.input)) {
        if (this.interrupted || this.fatal) break;
        const task = this.taskOf(line, text);
        if (task === null) continue;
        batch.push(task);
        if (batch.length >= this.spec.batchSize) {
          await this.launch(batch);
          batch = [];
        }
      }
      if (batch.length > 0 && !this.interrupted && !this.fatal) await this.launch(batch);
      await Promise.all(this.inflight);
    } finally {
      process.off('SIGINT', this.onSignal);
      process.off('SIGTERM', this.onSignal);
      this.progress.finish();
      await this.writer.close();
    }
  }

  /** The line's task; null for a line already done (counted) or one that cannot be sent (written). */
  private taskOf(line: number, text: string): Task<P> | null {
    let task: Task<P>;
    try {
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch (err) {
        throw new InputError('INVALID_JSON', `not JSON: ${(err as Error).message}`);
      }
      task = { line, ...this.spec.parse(record, line) };
    } catch (err) {
      const id = (err instanceof InputError && err.id) || String(line);
      if (!this.done.has(id)) this.fail({ id, line }, errorInfo(err));
      return null;
    }
    if (!this.done.has(task.id)) return task;
    this.skipped++;
    this.progress.tick(1);
    return null;
  }

  private async launch(batch: Task<P>[]): Promise<void> {
    while (this.inflight.size >= this.spec.concurrency) await Promise.race(this.inflight);
    const p = this.runBatch(batch).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private async runBatch(batch: Task<P>[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await this.spec.process(batch);
    } catch (err) {
      if (isFatal(err)) {
        this.fatal ??= err;
        return; // not written: these lines are retried when the command runs again
      }
      outcomes = batch.map(() => ({ error: errorInfo(err) }));
    }
    batch.forEach((task, i) => {
      const o = outcomes[i]!;
      if ('error' in o) this.fail(task, o.error);
      else {
        this.ok++;
        this.writer.write(o.record);
        this.progress.tick(1);
      }
    });
  }

  private fail(task: { id: string; line: number }, error: ErrorInfo): void {
    this.failed++;
    this.writer.write({ id: task.id, line: task.line, error });
    this.progress.log(`${this.spec.command}: line ${task.line} (id ${task.id}): ${error.code}: ${error.message}`);
    this.progress.tick(0, 1);
  }

  /** The closing line on stderr and the exit code (module comment). */
  summary(resumeFrom: string | undefined, secs: string): number {
    const { command, out } = this.spec;
    const skippedText = this.skipped > 0 ? `, ${this.skipped} already in ${resumeFrom}` : '';
    process.stderr.write(`${command}: ${this.ok} done, ${this.failed} failed${skippedText} in ${secs}s\n`);
    if (this.fatal) {
      process.stderr.write(`${command}: stopped: ${this.fatal.code}: ${this.fatal.message}\n`);
      if (out) process.stderr.write(`${command}: run the same command again to resume\n`);
      return 2;
    }
    if (this.interrupted) {
      if (out) process.stderr.write(`${command}: run the same command again to resume\n`);
      return 130;
    }
    return this.failed > 0 ? 1 : 0;
  }
}
