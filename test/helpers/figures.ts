/**
 * Measured figures of the reliability tests (counts, durations), printed only when PRM_FIGURES=1
 * so that `npm test` stays quiet. docs/reliability.md quotes them; tests never assert on durations.
 */
export function figure(name: string, data: Record<string, unknown>): void {
  if (process.env.PRM_FIGURES === '1') console.log(`FIGURE ${name} ${JSON.stringify(data)}`);
}
