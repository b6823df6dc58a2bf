/**
 * log_softmax(logits)[target] for one position of a float32 [.., V] logits buffer, accumulated in
 * float64 and shifted by the maximum so large logits neither overflow nor lose the small terms.
 */
export function logSoftmaxAt(logits: Float32Array, offset: number, vocab: number, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) {
    const x = logits[offset + v];
    if (x > max) max = x;
  }
  if (max === -Infinity || Number.isNaN(max)) return NaN;
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v] - max);
  return logits[offset + target] - max - Math.log(sum);
}
