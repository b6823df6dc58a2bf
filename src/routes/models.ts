/** GET /v1/models: the loaded models and what a client needs to know to send them traces. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../http/error-schemas.js';

export const ModelInfoSchema = Type.Object({
  name: Type.String(),
  fingerprint: Type.String({ description: 'sha256 of the log-prob function (graphs, tokenizer, template)' }),
  beta: Type.Number({ description: 'β the model was trained with (requests may override)' }),
  reference_free: Type.Boolean(),
  step_separator: Type.String({ description: 'Splits a `response` into steps' }),
  end_texts: Type.Array(Type.String(), { description: "The tokenizer's EOS and pad texts; /get_reward strips them from the end of a response" }),
  max_sequence_length: Type.Integer({ description: 'Prompt + response tokens; longer → 413 SEQUENCE_TOO_LONG' }),
  graph: Type.Enum(['logits', 'logprobs'], { description: 'ONNX graph flavour' }),
  execution_provider: Type.String({ description: 'onnxruntime execution provider in use (cpu, cuda)' }),
  provenance: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'How the model was trained' })),
});

export const ModelsResponseSchema = Type.Object(
  {
    default_model: Type.Union([Type.String(), Type.Null()], { description: 'Used when a request names no model' }),
    models: Type.Array(ModelInfoSchema, { description: 'Models loaded and ready' }),
  },
  { description: 'The models this server scores with' },
);

export const modelsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/models',
    {
      schema: {
        summary: 'Models loaded and ready',
        tags: ['models'],
        response: { 200: ModelsResponseSchema, ...errorResponses(500) },
      },
    },
    async () => ({ default_model: app.scoring.defaultModel() ?? null, models: app.scoring.models() }),
  );
};
