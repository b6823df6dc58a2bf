/**
 * How many tokens per second the engine gets through, from the batches it ran (the batcher passes
 * only those that left rows waiting: the pace at which a backlog drains): a decaying sum of
 * tokens over a decaying sum of seconds, so one odd batch (a warm-up, a pass that waited for the
 * CPU lane) moves it a little and a change of load moves it within a few dozen batches. Pure, so
 * it is tested on its own.
 */

/** Weight a batch keeps after each later batch. */
const DECAY = 0.9;

export class TokenRate {
  private tokens = 0;
  private seconds = 0;

  observe(tokens: number, seconds: number): void {
    if (!(tokens > 0) || !(seconds > 0)) return;
    this.tokens = this.tokens * DECAY + tokens;
    this.seconds = this.seconds * DECAY + seconds;
  }

  /** Tokens per second, or undefined before the first batch. */
  get perSecond(): number | undefined {
    return this.seconds > 0 ? this.tokens / this.seconds : undefined;
  }

  /** Seconds the engine needs for `tokens`, or undefined before the first batch. */
  secondsFor(tokens: number): number | undefined {
    const rate = this.perSecond;
    return rate === undefined ? undefined : tokens / rate;
  }
}
