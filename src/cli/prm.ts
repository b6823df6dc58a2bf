/**
 * The `prm` command line: one entry point dispatching to a subcommand per file. Usage mistakes
 * print a one-line reason and a pointer to --help and exit with 2; a subcommand's own result is
 * its exit status.
 */
import { existsSync, readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { benchCommand } from './bench.js';
import { StartError } from './connect.js';
import { rerankCommand } from './rerank.js';
import { scoreCommand } from './score.js';
import { serveCommand } from './serve.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number | 'running'>; summary: string }> = {
  serve: { run: serveCommand, summary: 'Start the HTTP service' },
  score: { run: scoreCommand, summary: 'Score a JSON Lines file of traces (resumable, concurrent)' },
  rerank: { run: rerankCommand, summary: 'Pick the best of N candidates per prompt' },
  bench: { run: benchCommand, summary: 'Measure a running service: throughput and latency' },
};

/** package.json sits two folders up from src/cli/ and three from the compiled dist/src/cli/. */
function version(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(url)) return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

const HELP = `Usage: prm <command> [options]

Per-step implicit process rewards for reasoning traces.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)}${c.summary}`)
  .join('\n')}

Run 'prm <command> --help' for a command's options. Client commands read PRM_URL and
PRM_API_KEY from the environment when --url and --api-key are not given.
`;

async function main(argv: string[]): Promise<number | 'running'> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command '${name}'`);
  return command.run(rest);
}

// `prm score … | head` closes stdout early; that is the reader's choice, not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    // 'running' = the server owns the process now; otherwise let stdout drain, then exit.
    if (code !== 'running') process.exitCode = code;
  },
  (err: unknown) => {
    const command = process.argv[2] && COMMANDS[process.argv[2]] ? ` ${process.argv[2]}` : '';
    if (err instanceof UsageError) {
      process.stderr.write(`prm${command}: ${err.message}\nRun 'prm${command} --help' for usage.\n`);
      process.exitCode = 2;
    } else if (err instanceof StartError) {
      process.stderr.write(`prm${command}: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`prm${command}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
