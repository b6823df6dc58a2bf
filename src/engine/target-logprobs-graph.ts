/**
 * log_softmax over the vocabulary and the gather of each position's target, as an onnxruntime
 * graph of its own (logits [B, S, V] float32, target_ids [B, S] int64 → target_logprobs [B, S]):
 * for `logits`-flavour graphs, whose logits would otherwise be log-softmaxed in JavaScript, one
 * position at a time (bench/NOTES.md, `npx tsx bench/head-graph.ts`: 1.45–1.53 ms per position at a
 * 151 936-token vocabulary in JavaScript, 0.28–0.29 ms in this graph on one thread, 0.14–0.15 ms on two).
 *
 * The bytes are trainer/implicit_prm/onnx_logprobs.py's target_logprobs_model() serialised; the
 * trainer's tests check that they still are.
 */
export const TARGET_LOGPROBS_GRAPH = Buffer.from(
  'CAgSDGltcGxpY2l0LXBybTq7Awo4CgZsb2dpdHMSDGFsbF9sb2dwcm9icyIKTG9nU29mdG1heCoUCgRheGlzGP///////////wGgAQIKMAoKdGFyZ2V0X2lkcwoEYXhlcxIRdGFyZ2V0X2lkc19jb2x1bW4iCVVuc3F1ZWV6ZQpfCgxhbGxfbG9ncHJvYnMKEXRhcmdldF9pZHNfY29sdW1uEhZ0YXJnZXRfbG9ncHJvYnNfY29sdW1uIg5HYXRoZXJFbGVtZW50cyoUCgRheGlzGP///////////wGgAQIKOAoWdGFyZ2V0X2xvZ3Byb2JzX2NvbHVtbgoEYXhlcxIPdGFyZ2V0X2xvZ3Byb2JzIgdTcXVlZXplEg90YXJnZXRfbG9ncHJvYnMqFggBEAc6Cv///////////wFCBGF4ZXNaLgoGbG9naXRzEiQKIggBEh4KBxIFYmF0Y2gKChIIc2VxdWVuY2UKBxIFdm9jYWJaKQoKdGFyZ2V0X2lkcxIbChkIBxIVCgcSBWJhdGNoCgoSCHNlcXVlbmNlYi4KD3RhcmdldF9sb2dwcm9icxIbChkIARIVCgcSBWJhdGNoCgoSCHNlcXVlbmNlQgQKABAR',
  'base64',
);
