/**
 * Turns the schema validator's errors into one error code and a message that names the field, e.g.
 * `body.items[0].steps[2] must NOT have fewer than 1 characters`. A few schema failures have their
 * own codes (an empty step list, an empty step, a bad option) because clients handle them
 * differently from a malformed request; everything else is INVALID_REQUEST.
 */
import type { FastifySchemaValidationError } from 'fastify';
import { ErrorCode } from '../errors.js';

/** `/items/0/steps/2` under `body` → `body.items[0].steps[2]`. */
export function fieldPath(context: string, instancePath: string): string {
  let out = context;
  for (const part of instancePath.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : `.${key}`;
  }
  return out;
}

function describe(context: string, e: FastifySchemaValidationError): string {
  const at = fieldPath(context, e.instancePath);
  const p = e.params;
  switch (e.keyword) {
    case 'required':
      return `${fieldPath(context, `${e.instancePath}/${String(p.missingProperty)}`)} is required`;
    case 'additionalProperties':
      return `${at} has an unknown field '${String(p.additionalProperty)}'`;
    case 'enum':
      return `${at} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${at} ${e.message ?? 'is invalid'}`;
  }
}

function codeFor(e: FastifySchemaValidationError): ErrorCode {
  const path = e.instancePath;
  if (e.keyword === 'minItems' && /^\/items\/\d+\/steps$/.test(path)) return ErrorCode.EMPTY_STEPS;
  if (e.keyword === 'minLength' && /^\/items\/\d+\/steps\/\d+$/.test(path)) return ErrorCode.EMPTY_STEP;
  if (/^\/options(\/|$)/.test(path)) return ErrorCode.INVALID_OPTION;
  return ErrorCode.INVALID_REQUEST;
}

export function describeValidation(
  errors: FastifySchemaValidationError[],
  context: string,
): { code: ErrorCode; message: string } {
  const first = errors[0];
  if (!first) return { code: ErrorCode.INVALID_REQUEST, message: `${context} is invalid` };
  // The validator stops at the first error (allErrors: false), so there is normally one.
  const message = [...new Set(errors.map((e) => describe(context, e)))].join('; ');
  return { code: codeFor(first), message };
}
