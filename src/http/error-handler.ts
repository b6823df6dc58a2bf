/**
 * The one place where errors become HTTP responses. Every error (ours, Fastify's, a plugin's, a bug)
 * is turned into a PrmError and sent as `{error: {code, message}}` with the status from
 * HTTP_STATUS; nothing else in the service picks a status for an error.
 */
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, PrmError, errorBody } from '../errors.js';
import { metrics } from '../metrics.js';
import { describeValidation } from './validation-errors.js';

type AnyError = Partial<FastifyError> & Error & {
  validation?: Parameters<typeof describeValidation>[0];
  validationContext?: string;
};

/** Fastify's own error codes (checked against fastify 5 lib/errors.js) and what clients see. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCode.INVALID_JSON,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.INVALID_JSON,
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.BODY_TOO_LARGE,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCode.INVALID_REQUEST,
  FST_ERR_BAD_URL: ErrorCode.INVALID_REQUEST,
  FST_ERR_INVALID_URL: ErrorCode.INVALID_REQUEST,
  FST_ERR_MAX_PARAM_LENGTH: ErrorCode.INVALID_REQUEST,
  FST_ERR_NOT_FOUND: ErrorCode.ROUTE_NOT_FOUND,
};

/** Other client errors raised by plugins carry only a status. */
const BY_STATUS: Record<number, ErrorCode> = {
  404: ErrorCode.ROUTE_NOT_FOUND,
  405: ErrorCode.METHOD_NOT_ALLOWED,
  413: ErrorCode.BODY_TOO_LARGE,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
};

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  [ErrorCode.INVALID_JSON]: 'request body is not valid JSON',
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 'request body must be application/json',
};

/** Returns null for errors that are our fault (they become INTERNAL with a generic message). */
export function toPrmError(err: AnyError, bodyLimitBytes: number): PrmError | null {
  if (err instanceof PrmError) return err;
  if (err.validation) {
    const { code, message } = describeValidation(err.validation, err.validationContext ?? 'body');
    return new PrmError(code, message);
  }
  const code = (err.code && FASTIFY_CODES[err.code]) ?? (err.statusCode ? BY_STATUS[err.statusCode] : undefined);
  if (code === ErrorCode.BODY_TOO_LARGE) {
    return new PrmError(code, `request body is larger than ${bodyLimitBytes} bytes`);
  }
  if (code) return new PrmError(code, MESSAGES[code] ?? err.message);
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new PrmError(ErrorCode.INVALID_REQUEST, err.message);
  }
  return null;
}

export function sendError(reply: FastifyReply, err: PrmError): FastifyReply {
  metrics.errors.inc({ code: err.code });
  if (err.retryAfterS !== undefined) reply.header('retry-after', String(Math.max(0, Math.ceil(err.retryAfterS))));
  return reply.code(err.status).type('application/json; charset=utf-8').send(errorBody(err.code, err.message));
}

function handleError(this: FastifyInstance, err: AnyError, request: FastifyRequest, reply: FastifyReply) {
  const mapped = toPrmError(err, this.initialConfig.bodyLimit ?? 0);
  if (mapped === null) {
    request.log.error({ err }, 'unhandled error');
    return sendError(reply, new PrmError(ErrorCode.INTERNAL, 'internal error; the server log has details'));
  }
  if (mapped.code === ErrorCode.CLIENT_CLOSED) request.log.info('client closed the connection before the response');
  else request.log.debug({ code: mapped.code }, mapped.message);
  return sendError(reply, mapped);
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

function handleNotFound(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
  const url = request.url.split('?')[0] ?? '/';
  // Fastify answers a known path with the wrong method as "not found"; tell the client which
  // methods the path does support instead.
  const allowed = METHODS.filter((method) => this.hasRoute({ method, url }));
  if (allowed.length > 0) {
    reply.header('allow', allowed.join(', '));
    return sendError(reply, new PrmError(ErrorCode.METHOD_NOT_ALLOWED, `${request.method} is not allowed on ${url}; use ${allowed.join(' or ')}`));
  }
  return sendError(reply, new PrmError(ErrorCode.ROUTE_NOT_FOUND, `no route ${request.method} ${url}`));
}

/**
 * Errors Fastify raises before a request reaches routing (a malformed URL), passed as the
 * `frameworkErrors` server option so that they get the same body as everything else.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = toPrmError(err, 0) ?? new PrmError(ErrorCode.INTERNAL, 'internal error; the server log has details');
  if (mapped.code === ErrorCode.INTERNAL) request.log.error({ err }, 'framework error');
  sendError(reply, mapped);
}

/**
 * Errors Node's HTTP server raises before Fastify sees a request (a client too slow with its
 * headers or body, a malformed request line): answered in the same error shape, then closed.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) return void socket.destroy();
  const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT';
  const e = timeout
    ? new PrmError(ErrorCode.REQUEST_TIMEOUT, 'the request took too long to arrive (HEADERS_TIMEOUT_MS, BODY_TIMEOUT_MS)')
    : new PrmError(ErrorCode.INVALID_REQUEST, 'the request is not valid HTTP');
  const body = JSON.stringify(errorBody(e.code, e.message));
  metrics.errors.inc({ code: e.code });
  socket.end(`HTTP/1.1 ${e.status} ${timeout ? 'Request Timeout' : 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
}
