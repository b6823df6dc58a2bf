/**
 * Option parsing shared by the subcommands, on node:util parseArgs. Every subcommand declares its
 * options once (name, type, default, help text) so that parsing, defaults and `--help` come from
 * the same table and cannot disagree.
 */
import { parseArgs } from 'node:util';
import { AGGREGATES, type Aggregate } from '../core/types.js';

/** A mistake in how the command was called: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in --help; for strings also the value used when the option is absent. */
  default?: string;
  /** Placeholder in --help, e.g. URL or N. */
  value?: string;
  help: string;
}

export type OptionTable = Record<string, OptionSpec>;

/** Options every client subcommand takes; PRM_URL and PRM_API_KEY spare repeating them. */
export const CONNECTION_OPTIONS: OptionTable = {
  url: { type: 'string', value: 'URL', default: process.env.PRM_URL || 'http://127.0.0.1:8080', help: 'Service address (env PRM_URL)' },
  'api-key': { type: 'string', value: 'KEY', help: 'Sent as Authorization: Bearer KEY (env PRM_API_KEY)' },
  model: { type: 'string', value: 'NAME', help: "Model to use (default: the service's default model)" },
};

export const HELP_OPTION: OptionTable = { help: { type: 'boolean', short: 'h', help: 'Show this help' } };

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parse(argv: string[], table: OptionTable, maxPositionals: number): Parsed {
  const options = Object.fromEntries(
    Object.entries(table).map(([name, spec]) => [name, spec.short ? { type: spec.type, short: spec.short } : { type: spec.type }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values: Parsed['values'] = { ...parsed.values };
  for (const [name, spec] of Object.entries(table)) {
    if (values[name] === undefined && spec.type === 'string' && spec.default !== undefined) values[name] = spec.default;
  }
  if (!values.help && parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  }
  return { values, positionals: parsed.positionals };
}

/** The parsed command line, or null once `--help` has printed `help` (the command then exits 0). */
export function parseOrHelp(argv: string[], table: OptionTable, maxPositionals: number, help: string): Parsed | null {
  const parsed = parse(argv, table, maxPositionals);
  if (!parsed.values.help) return parsed;
  process.stdout.write(help);
  return null;
}

/** `--help` text: usage lines, a description, then the option table. */
export function helpText(usage: string[], description: string, table: OptionTable): string {
  const rows = Object.entries(table).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    const def = spec.default !== undefined && spec.type === 'string' ? ` [default: ${spec.default}]` : '';
    return [flag, spec.help + def] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [
    `Usage: ${usage[0]}`,
    ...usage.slice(1).map((u) => `       ${u}`),
    '',
    description,
    '',
    'Options:',
    ...rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`),
    '',
  ].join('\n');
}

export function str(values: Parsed['values'], name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function int(values: Parsed['values'], name: string, min: number): number {
  const text = str(values, name) ?? '';
  if (!/^\d+$/.test(text) || Number(text) < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${text}'`);
  return Number(text);
}

export function positiveNumber(values: Parsed['values'], name: string): number | undefined {
  const text = str(values, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a number > 0, got '${text}'`);
  return n;
}

export function aggregate(values: Parsed['values']): Aggregate {
  const a = str(values, 'aggregate') ?? 'min';
  if (!(AGGREGATES as readonly string[]).includes(a)) throw new UsageError(`--aggregate must be one of ${AGGREGATES.join(', ')}, got '${a}'`);
  return a as Aggregate;
}

export function apiKey(values: Parsed['values']): string | undefined {
  return str(values, 'api-key') ?? (process.env.PRM_API_KEY || undefined);
}
