/**
 * Large answers serialized a piece at a time. Serializing the answer of the largest requests the
 * limits allow (256 traces with token rewards: ~3 MB of JSON) in one call, and writing it as one
 * string, holds the event loop for 50–70 ms; here each member of the answer, and each element of
 * its long arrays, goes through a serializer compiled from its schema (the same bytes as the
 * route's serializer gives for the whole), the event loop is given back every few milliseconds,
 * and the answer is sent as the bytes of those slices, so nothing converts it again on the way to
 * the socket.
 */
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import fastJsonStringify from 'fast-json-stringify';
import type { TSchema } from 'typebox';
import { TimeSlices } from '../util/time-slices.js';

/** The event loop is given back after this long. */
const SLICE_MS = 5;

/** The least size of one piece of an answer's bytes. */
const CHUNK_BYTES = 64 * 1024;

/** One member of an answer: its name, its schema, and whether it is an array serialized element by element. */
export interface AnswerMember {
  name: string;
  schema: TSchema;
  elements?: boolean;
}

/** The members of a route's answer, in the order they are sent. */
export type AnswerShape = readonly AnswerMember[];

type Serializer = (value: unknown) => string;

/**
 * Member serializers, one per schema for the whole process, by fast-json-stringify: the compiler
 * behind Fastify's own response serializers (the service sets no shared schemas and no
 * serializer options, so the bytes are the same).
 */
const serializers = new WeakMap<TSchema, Serializer>();
let compiled = 0;

function serializerOf(schema: TSchema): Serializer {
  let serialize = serializers.get(schema);
  if (serialize === undefined) {
    // compileValidators: the validators of anyOf branches are built now too, not by the first
    // value that reaches them.
    serialize = fastJsonStringify(schema as Parameters<typeof fastJsonStringify>[0], { compileValidators: true }) as Serializer;
    serializers.set(schema, serialize);
    compiled++;
  }
  return serialize;
}

/**
 * Compiles the serializers of an answer's members; routes call it when they are registered.
 * Compiling one takes tens of milliseconds (fast-json-stringify builds a validator for it): left
 * to the first answer, it held the event loop for 40 ms in the middle of a server's first large
 * answers.
 */
export function compileAnswerSerializers(shape: AnswerShape): void {
  for (const member of shape) serializerOf(member.schema);
}

/** How many member serializers have been compiled in this process. */
export function compiledAnswerSerializers(): number {
  return compiled;
}

/** Sends `{name: answer[name], ...}` for the members of `shape` in order, serialized by their schemas in slices. */
export async function sendSliced(reply: FastifyReply, shape: AnswerShape, answer: object): Promise<FastifyReply> {
  const values = answer as Record<string, unknown>;
  const out = new ChunkWriter();
  const slices = new TimeSlices(SLICE_MS);
  const put = async (text: string) => {
    out.write(text);
    if (slices.due) await slices.pass();
  };
  for (const [i, m] of shape.entries()) {
    await put(`${i === 0 ? '{' : ','}${JSON.stringify(m.name)}:`);
    if (m.elements !== true) {
      await put(serializerOf(m.schema)(values[m.name]));
      continue;
    }
    const serialize = serializerOf(m.schema);
    await put('[');
    for (const [k, v] of (values[m.name] as readonly unknown[]).entries()) await put(`${k === 0 ? '' : ','}${serialize(v)}`);
    await put(']');
  }
  out.write('}');
  const chunks = out.end();
  // The pieces go out one by one as the socket takes them: joined, the largest answers were one
  // copy of several MB and one write of it, both inside one turn of the event loop.
  const length = chunks.reduce((n, c) => n + c.length, 0);
  return reply.type('application/json; charset=utf-8').header('content-length', length).send(Readable.from(chunks, { objectMode: false }));
}

/**
 * UTF-8 bytes in chunks of at least CHUNK_BYTES, each text written as soon as it is made: a text
 * kept until its slice ended was copied by every young-generation collection meanwhile.
 */
class ChunkWriter {
  private readonly chunks: Buffer[] = [];
  private chunk = Buffer.allocUnsafe(0);
  private used = 0;

  write(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (this.used + bytes > this.chunk.length) {
      this.flush();
      this.chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    }
    this.used += this.chunk.write(text, this.used);
  }

  end(): Buffer[] {
    this.flush();
    return this.chunks;
  }

  private flush(): void {
    if (this.used > 0) this.chunks.push(this.chunk.subarray(0, this.used));
    this.used = 0;
  }
}
