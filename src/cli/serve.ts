/**
 * `prm serve`: runs the service in this process, exactly as `npm start` does (src/server.ts), with
 * a few common settings available as flags. Flags only set the environment variables of the same
 * meaning; every other setting is read from the environment as documented in the README.
 */
import { HELP_OPTION, helpText, parse, str, type OptionTable } from './args.js';

const FLAGS: Record<string, string> = {
  port: 'PORT',
  host: 'HOST',
  'models-dir': 'MODELS_DIR',
  'default-model': 'DEFAULT_MODEL',
  device: 'PRM_DEVICE',
  'log-level': 'LOG_LEVEL',
};

const OPTIONS: OptionTable = {
  port: { type: 'string', short: 'p', value: 'N', help: 'TCP port (env PORT, default 8080; 0 = any free port)' },
  host: { type: 'string', value: 'ADDR', help: 'Address to listen on (env HOST, default 0.0.0.0)' },
  'models-dir': { type: 'string', short: 'm', value: 'DIR', help: 'Folder of model bundles (env MODELS_DIR, default models)' },
  'default-model': { type: 'string', value: 'NAME', help: 'Model for requests that name none (env DEFAULT_MODEL)' },
  device: { type: 'string', value: 'DEV', help: 'auto, cuda or cpu (env PRM_DEVICE, default auto)' },
  'log-level': { type: 'string', value: 'LEVEL', help: 'fatal … trace, or silent (env LOG_LEVEL, default info)' },
  ...HELP_OPTION,
};

const HELP = helpText(
  ['prm serve [options]'],
  `Starts the HTTP service (the same program as 'npm start' and the container image). It listens
at once and answers /health/ready with 503 until every model bundle has loaded. Settings come
from environment variables (see the README's configuration table); these flags set the most
common ones. Stop it with Ctrl-C or SIGTERM (requests in flight are finished first).`,
  OPTIONS,
);

export async function serveCommand(argv: string[]): Promise<number | 'running'> {
  const { values } = parse(argv, OPTIONS, 0);
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  for (const [flag, env] of Object.entries(FLAGS)) {
    const v = str(values, flag);
    if (v !== undefined) process.env[env] = v;
  }
  // The server entry point starts on import and owns the process from then on (signals, exit).
  await import('../server.js');
  return 'running';
}
