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

/** How a run is cut into chunks. */
export interface Chunking {
  /** The most steps of the chunk that starts at `step` (checkpoints and evaluation points end chunks). */
  most(step: number): number;
  /**
   * Chunks of about this many seconds, from the time the previous chunk took per step (the first is
   * one step): a page's Pause and Stop land within it on any adapter, and a fast GPU still runs many
   * steps per readback. Absent: `most` alone (the command line, which logs per chunk).
   */
  seconds?: number;
}

/**
 * Trains until step `end` in chunks (`chunking`), calling `onChunk` after each; `stopped` is checked
 * between chunks.
 */
export async function trainUntil<L>(
  trainer: SteppedTrainer<L>, end: number, chunking: Chunking,
  onChunk: (c: Chunk<L>) => void | Promise<void>, stopped: () => boolean = () => false,
): Promise<void> {
  let secondsPerStep: number | undefined;
  while (trainer.step < end && !stopped()) {
    let steps = Math.min(end - trainer.step, Math.max(1, Math.floor(chunking.most(trainer.step))));
    if (chunking.seconds !== undefined) steps = Math.min(steps, secondsPerStep === undefined ? 1 : Math.max(1, Math.floor(chunking.seconds / secondsPerStep)));
    const t0 = performance.now();
    const losses = await trainer.trainSteps(steps);
    const seconds = (performance.now() - t0) / 1000;
    secondsPerStep = seconds / steps;
    await onChunk({ losses, steps, seconds });
  }
}
