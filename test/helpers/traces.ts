/** Test traces in the tiny test tokenizer's vocabulary (one token per character). */

/** A deterministic arithmetic trace in the tiny tokenizer's vocabulary; distinct per seed. */
export function trace(seed: number, steps = 2): { prompt: string; steps: string[] } {
  const a = 10 + ((seed * 37) % 80);
  const b = 3 + ((seed * 11) % 20);
  const out: string[] = [];
  let v = a;
  for (let k = 0; k < steps - 1; k++) {
    const n = 2 + ((seed + k * 7) % 9);
    out.push(`${v}+${n}=${v + n}`);
    v += n;
  }
  out.push(`Answer: ${v}`);
  return { prompt: `${a}+${b}*2 #${seed}`, steps: out };
}
