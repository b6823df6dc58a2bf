/**
 * Large answers serialized a piece at a time. Serializing the answer of the largest requests the
 * limits allow (256 traces with token rewards: ~3 MB of JSON) in one call, and writing it as one
 * string, holds the event loop for 50–70 ms; here each member of the answer, and each element of
 * its long arrays, goes through the route's own response serializer (the same bytes as
 * serializing the whole), the event loop is given back every few milliseconds, and the answer is
 * sent as the bytes of those slices, so nothing converts it again on the way to the socket.
 */
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { TSchema } from 'typebox';
import { TimeSlices } from '../util/time-slices.js';

/** The event loop is given back after this long. */
const SLICE_MS = 5;

/** One member of the answer: its schema, and whether it is an array serialized element by element. */
export interface AnswerMember {
  name: string;
  value: unknown;
  schema: TSchema;
  elements?: boolean;
}

/** The route's serializer for `schema` (compiled once per schema and route, then cached by Fastify). */
function serializerOf(reply: FastifyReply, schema: TSchema): (value: unknown) => string {
  return reply.compileSerializationSchema(schema as Record<string, unknown>) as (value: unknown) => string;
}

/** Sends `{name: value, ...}` for `members` in order, serialized by their schemas in slices. */
export async function sendSliced(reply: FastifyReply, members: readonly AnswerMember[]): Promise<FastifyReply> {
  const chunks: Buffer[] = [];
  let pending: string[] = [];
  const slices = new TimeSlices(SLICE_MS);
  const put = async (text: string) => {
    pending.push(text);
    if (!slices.due) return;
    chunks.push(Buffer.from(pending.join('')));
    pending = [];
    await slices.pass();
  };
  for (const [i, m] of members.entries()) {
    await put(`${i === 0 ? '{' : ','}${JSON.stringify(m.name)}:`);
    if (m.elements !== true) {
      await put(serializerOf(reply, m.schema)(m.value));
      continue;
    }
    const serialize = serializerOf(reply, m.schema);
    const values = m.value as readonly unknown[];
    await put('[');
    for (const [k, v] of values.entries()) await put(`${k === 0 ? '' : ','}${serialize(v)}`);
    await put(']');
  }
  pending.push('}');
  chunks.push(Buffer.from(pending.join('')));
  // The pieces go out one by one as the socket takes them: joined, the largest answers were one
  // copy of several MB and one write of it, both inside one turn of the event loop.
  const length = chunks.reduce((n, c) => n + c.length, 0);
  return reply.type('application/json; charset=utf-8').header('content-length', length).send(Readable.from(chunks, { objectMode: false }));
}
