/**
 * The task module of `pad eval`'s worker threads (protocol/task-pool.ts): each loads its own PAD detector at
 * the threshold asked for, then scores image files (evaluate.ts scoreImageFile).
 */
import { createPadDetector, type PadDetector } from './detector.ts';
import { type PadScoreOutcome, scoreImageFile } from './evaluate.ts';

let detector: PadDetector;

export async function setup(options: { threshold?: number } | undefined): Promise<void> {
  detector = await createPadDetector(
    options?.threshold === undefined ? {} : { threshold: options.threshold },
  );
}

export function run(file: string): Promise<PadScoreOutcome> {
  return scoreImageFile(detector, file);
}
