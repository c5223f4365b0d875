/** Task module (protocol/task-pool.ts) of the synthetic camera's render threads: one frame per input. */
import { type ReflexPresentation, renderReflexFrame } from '../../iris/attacks/reflex-capture.ts';
import type { GreyImage } from '../../iris/types.ts';
import type { StimulusPulse } from '../../protocol/pupil-reflex.ts';

export interface RenderInput {
  presentation: ReflexPresentation;
  schedule: readonly StimulusPulse[];
  tMs: number;
}

export async function run({ presentation, schedule, tMs }: RenderInput): Promise<GreyImage> {
  return renderReflexFrame(presentation, schedule, tMs).image;
}
