/**
 * Connecting the client subcommands to a service: one client built from --url/--api-key, and one
 * check before any work starts, so that a wrong address, key or model name is one clear message
 * instead of an error line for every input line.
 */
import { PrmClient } from '../client/client.js';
import { PrmApiError } from '../client/errors.js';
import { apiKey, str, type Parsed } from './args.js';

/** Cannot start: the message is printed as is and the command exits with code 2. */
export class StartError extends Error {
  override name = 'StartError';
}

export function clientFrom(values: Parsed['values'], maxRetries = 5): PrmClient {
  const key = apiKey(values);
  return new PrmClient({ baseUrl: str(values, 'url')!, maxRetries, ...(key ? { apiKey: key } : {}) });
}

/** Checks that the service answers and knows the model; returns the model name that will be used. */
export async function checkService(client: PrmClient, model: string | undefined): Promise<string> {
  let listed;
  try {
    // One retry: enough for a service that is just starting, short for one that is not there.
    listed = await client.models({ maxRetries: 1 });
  } catch (err) {
    if (err instanceof PrmApiError && err.code === 'NETWORK') {
      throw new StartError(`cannot reach the service at ${client.baseUrl} (${err.message}); start one with 'prm serve' or pass --url`);
    }
    if (err instanceof PrmApiError) throw new StartError(`${client.baseUrl}: ${err.code}: ${err.message}`);
    throw err;
  }
  const names = listed.models.map((m) => m.name);
  const chosen = model ?? listed.default_model ?? undefined;
  if (chosen === undefined || !names.includes(chosen)) {
    const what = model === undefined ? 'the service has no default model' : `unknown model '${model}'`;
    throw new StartError(`${what}; loaded models: ${names.join(', ') || 'none'}`);
  }
  return chosen;
}
