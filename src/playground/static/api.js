// The few API calls the page makes, with the service's error shape turned into one Error type.
// The API key, when the service needs one (possibly an admin key), is kept in this tab's
// sessionStorage only: it survives a reload, not the tab, and is never written to the browser's
// long-lived storage. A key an older page left in localStorage is removed.

const KEY_STORAGE = 'implicit-prm.api-key';

try {
  localStorage.removeItem(KEY_STORAGE);
} catch {
  // Storage disabled: nothing to remove.
}

export function savedApiKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function saveApiKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage disabled: the key then lasts as long as the page.
  }
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body, apiKey) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `the service did not answer (${err.message})`);
  }
  const data = await res.json().catch(() => undefined);
  if (!res.ok) {
    const e = data && data.error;
    throw new ApiError(res.status, e ? e.code : `HTTP_${res.status}`, e ? e.message : res.statusText);
  }
  return data;
}

export const listModels = (apiKey) => call('GET', '/v1/models', undefined, apiKey);

export function score({ model, prompt, steps, aggregate, beta }, apiKey) {
  const options = { aggregate, token_rewards: true };
  if (beta !== undefined) options.beta = beta;
  return call('POST', '/v1/score', { model, items: [{ id: 'playground', prompt, steps }], options }, apiKey);
}
