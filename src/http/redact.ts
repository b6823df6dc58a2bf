/**
 * What the public health view leaves out of its messages: the server's file paths and the
 * addresses of its backends (a client without a key learns that a bundle or Redis is in trouble,
 * not where they live). The log keeps the full text for operators.
 */
const ABSOLUTE_PATH = /(?<![\w.:/])\/(?:[^\s/:;,'"()]+\/)*([^\s/:;,'"()]+)/g;
const URL_WITH_HOST = /\b(redis|rediss|https?):\/\/[^\s;,'")]+/g;
const HOST_PORT = /(?:\b(?:\d{1,3}(?:\.\d{1,3}){3}|localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)+)|\[[0-9a-fA-F:]+\]):\d{2,5}\b/g;

export function redactDetail(text: string): string {
  return text
    .replace(URL_WITH_HOST, (_m, scheme: string) => `${scheme}://<address>`)
    .replace(HOST_PORT, '<address>')
    .replace(ABSOLUTE_PATH, (_m, last: string) => `…/${last}`);
}
