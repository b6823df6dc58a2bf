/**
 * JSON Lines in and out for the batch commands. Input is read as a stream (files of millions of
 * lines must not be loaded whole). Output files double as the resume log: a line with an `id` and
 * no `error` is finished work; error lines and a line cut short by an interruption are dropped, so
 * that running the same command again retries exactly what is missing.
 */
import { createReadStream, existsSync, openSync, closeSync, renameSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface InputLine {
  /** 1-based line number in the input. */
  line: number;
  text: string;
}

/** Non-blank lines of a file, or of stdin for '-'. */
export async function* readLines(path: string): AsyncGenerator<InputLine> {
  const input = path === '-' ? process.stdin : createReadStream(path, { encoding: 'utf8' });
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() !== '') yield { line, text };
  }
}

/** Non-blank lines of a file (for the progress bar's total); undefined for stdin. */
export async function countLines(path: string): Promise<number | undefined> {
  if (path === '-') return undefined;
  let n = 0;
  for await (const _ of readLines(path)) n++;
  return n;
}

function finishedId(text: string): string | undefined {
  try {
    const rec = JSON.parse(text) as unknown;
    if (rec && typeof rec === 'object' && !Array.isArray(rec) && !('error' in rec)) {
      const id = (rec as { id?: unknown }).id;
      if (typeof id === 'string') return id;
    }
  } catch {
    // A line cut short by an interruption: not finished.
  }
  return undefined;
}

export interface ResumeState {
  /** Ids whose results are already in the file. */
  done: Set<string>;
  /** Error lines and broken lines removed from the file (only when compacting). */
  dropped: number;
}

/**
 * Reads the finished ids of an output file. With `compact`, also rewrites the file without its
 * error lines and broken lines (through a temporary file and a rename, so an interruption here
 * cannot lose finished work), leaving it ready to be appended to.
 */
export async function loadFinished(path: string, compact: boolean): Promise<ResumeState> {
  const state: ResumeState = { done: new Set(), dropped: 0 };
  if (!existsSync(path)) return state;
  const tmp = `${path}.compacting`;
  const fd = compact ? openSync(tmp, 'w') : undefined;
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const text of rl) {
      if (text.trim() === '') continue;
      const id = finishedId(text);
      if (id === undefined) {
        state.dropped++;
        continue;
      }
      state.done.add(id);
      if (fd !== undefined) writeSync(fd, `${text}\n`);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (compact) renameSync(tmp, path);
  return state;
}

/** Where result lines go: a file opened for appending, or stdout. */
export class LineWriter {
  private readonly fd: number | undefined;

  constructor(path: string | undefined, truncate = false) {
    this.fd = path === undefined ? undefined : openSync(path, truncate ? 'w' : 'a');
  }

  /** One whole line per call, so an interruption can only ever cut the last line short. */
  write(record: unknown): void {
    const text = `${JSON.stringify(record)}\n`;
    if (this.fd !== undefined) writeSync(this.fd, text);
    else process.stdout.write(text);
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    else if (process.stdout.writableNeedDrain) await new Promise((r) => process.stdout.once('drain', r));
  }
}
