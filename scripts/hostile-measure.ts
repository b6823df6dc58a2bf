/**
 * One measurement of scripts/hostile-bodies.ts: a body sent to the running server (alone, or as N
 * copies at once), with the server's worst event-loop delay from its own metrics and its peak RSS.
 */
import { readFileSync } from 'node:fs';
import type { ServerProcess } from '../test/harness/server-process.js';
import type { HostileCase } from './hostile-cases.js';

export interface Measurement {
  name: string;
  bodyBytes: number;
  status: number | string;
  code?: string;
  ms: number;
  answerBytes: number;
  lagMaxMs: number;
  rssBefore: number;
  rssPeak: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** The server's worst event-loop delay since the last scrape, in ms (the scrape resets it). */
async function lagMaxMs(url: string): Promise<number> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  const m = /^prm_nodejs_eventloop_lag_max_seconds ([\d.e+-]+)$/m.exec(text);
  if (!m) throw new Error('no prm_nodejs_eventloop_lag_max_seconds in /metrics');
  return Number(m[1]) * 1000;
}

/** Samples VmRSS every 20 ms until stopped; resolves with the highest sample. */
function rssSampler(pid: number): { stop(): number } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssBytes(pid));
    },
  };
}

interface Answer {
  status: number | string;
  code?: string;
  bytes: number;
}

async function send(url: string, c: HostileCase): Promise<Answer> {
  try {
    const res = await fetch(`${url}${c.path}`, { method: c.method, headers: { 'content-type': 'application/json' }, body: c.body as unknown as RequestInit['body'] });
    const text = await res.text();
    let code: string | undefined;
    if (res.status >= 400) code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    return { status: res.status, code, bytes: Buffer.byteLength(text) };
  } catch (err) {
    return { status: `error ${(err as Error).message}`, bytes: 0 };
  }
}

/** Each status (and error code) with how many answers had it: "200 ×7, 503 OVERLOADED ×48". */
function answerCounts(answers: readonly Answer[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) {
    const key = `${a.status}${a.code ? ` ${a.code}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${key} ×${n}`).join(', ');
}

/** Sends copies of `c` at once (1: alone) and measures the server meanwhile. */
async function measure(server: ServerProcess, c: HostileCase, copies: number, name: string): Promise<Measurement> {
  await lagMaxMs(server.url);
  // The first tick after a reset is not recorded: let a few pass before the body arrives.
  await sleep(50);
  const rssBefore = rssBytes(server.pid);
  const sampler = rssSampler(server.pid);
  const start = performance.now();
  const answers = await Promise.all(Array.from({ length: copies }, () => send(server.url, c)));
  const ms = performance.now() - start;
  await sleep(100);
  const rssPeak = sampler.stop();
  const lag = await lagMaxMs(server.url);
  const statuses = answerCounts(answers);
  const first = answers[0]!;
  return {
    name, bodyBytes: c.body.length, status: copies === 1 ? first.status : statuses, code: copies === 1 ? first.code : undefined,
    ms, answerBytes: first.bytes, lagMaxMs: lag, rssBefore, rssPeak,
  };
}

export function measureCase(server: ServerProcess, c: HostileCase): Promise<Measurement> {
  return measure(server, c, 1, c.name);
}

export function measureConcurrent(server: ServerProcess, c: HostileCase, copies: number): Promise<Measurement> {
  return measure(server, c, copies, `${copies} × ${c.name}`);
}
