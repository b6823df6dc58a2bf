/**
 * The error body every route documents for its failure statuses: one shape, generated from the
 * error enum so the OpenAPI lists every code a client may have to handle.
 */
import { Type, type TSchema } from 'typebox';
import { ErrorCode, HTTP_STATUS } from '../errors.js';

export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.Enum(Object.values(ErrorCode), { description: 'Stable, machine-readable error code' }),
      message: Type.String({ description: 'What went wrong, for humans' }),
    }),
  },
  { description: 'Every error has this shape' },
);

/** The codes that share a status, for the response description of that status. */
function codesWithStatus(status: number): string {
  return (Object.keys(HTTP_STATUS) as ErrorCode[]).filter((c) => HTTP_STATUS[c] === status).join(', ');
}

/** `{400: ErrorBody, 404: ErrorBody, ...}` for a route's schema.response. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const status of statuses) {
    out[status] = { ...ErrorBodySchema, description: `Error: one of ${codesWithStatus(status)}` };
  }
  return out;
}
