/**
 * IEEE 754 half-precision bits → float32 values, for float16 graph outputs the engine computes
 * with (log-probs, logits). Node 20 has no Float16Array; onnxruntime-node hands float16 tensors
 * over as their raw bits in a Uint16Array.
 */
const SCRATCH = new DataView(new ArrayBuffer(4));

/** One half-precision value. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  // Normal: rebias the exponent (15 → 127) and widen the fraction (10 → 23 bits).
  SCRATCH.setUint32(0, ((bits & 0x8000) << 16) | ((exponent + 112) << 23) | (fraction << 13));
  return SCRATCH.getFloat32(0);
}

export function halvesToFloats(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]!);
  return out;
}
