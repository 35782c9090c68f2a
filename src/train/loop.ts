// The one training loop, for both model families (the time-conditioned Trainer and the
// LayeredTrainer) and every caller: the Train tab's session (chunks that end on checkpoint steps,
// Pause/Stop), `ddim train` and `ddim research train` (a log line per chunk) and the budget
// comparison (chunks that end on evaluation points). Each trainer reads its losses back once per
// chunk, so the chunk size is the only cost knob.

/** What trains in chunks of steps: `trainSteps(n)` runs n steps and returns their losses. */
export interface SteppedTrainer<L> {
  readonly step: number;
  trainSteps(n: number): Promise<L>;
}

export interface Chunk<L> {
  /** The chunk's losses, as the trainer returns them (one entry per step). */
  losses: L;
  steps: number;
  /** Wall time of the chunk's training, in seconds. */
  seconds: number;
}

/**
 * Trains until step `end` in chunks of at most `chunkAt(step)` steps, calling `onChunk` after each;
 * `stopped` is checked between chunks.
 */
export async function trainUntil<L>(
  trainer: SteppedTrainer<L>, end: number, chunkAt: (step: number) => number,
  onChunk: (c: Chunk<L>) => void | Promise<void>, stopped: () => boolean = () => false,
): Promise<void> {
  while (trainer.step < end && !stopped()) {
    const steps = Math.min(end - trainer.step, Math.max(1, Math.floor(chunkAt(trainer.step))));
    const t0 = performance.now();
    const losses = await trainer.trainSteps(steps);
    await onChunk({ losses, steps, seconds: (performance.now() - t0) / 1000 });
  }
}
