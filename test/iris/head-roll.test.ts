/**
 * A person enrolled upright comes back with the head rolled 35 degrees (beyond the 21 degrees one search
 * of 31 shifts covers, and where the eye-orientation estimate does not correct it): the duplicate search's
 * pre-rolls (iris/matcher.ts UNIQUENESS_ROLLS) still find the enrolment, so the tilt buys no second
 * identity. Rendered by the synthetic camera, encoded by the full pipeline.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { renderLive } from '../../iris/attacks/render-attack.ts';
import { duplicateDistances, matchPacked, packIrisCode } from '../../iris/matcher.ts';
import { createIrisPipeline, type IrisPipeline } from '../../iris/pipeline.ts';
import { identityOf, sessionOf } from '../../iris/synth/generate.ts';

const SEED = 'fusion-tune-v1';
let pipeline: IrisPipeline;
beforeAll(async () => {
  pipeline = await createIrisPipeline();
});

describe('a head rolled at the second capture', () => {
  it.each([0, 1])('does not hide person %i from the duplicate search', async (id) => {
    const identity = identityOf(SEED, id);
    const enrolSession = sessionOf(SEED, identity, 0);
    const encode = async (rotationDeg: number) =>
      packIrisCode(
        (await pipeline.encode(renderLive(identity, { ...sessionOf(SEED, identity, 1), rotationDeg }).image))
          .code,
      );
    const enrolled = packIrisCode((await pipeline.encode(renderLive(identity, enrolSession).image)).code);
    const upright = await encode(enrolSession.rotationDeg);
    const tilted = await encode(enrolSession.rotationDeg + 35);
    expect(duplicateDistances(upright, enrolled).duplicate).toBe(true);
    // One search of 31 shifts misses the tilted eye; the duplicate search finds it.
    expect(matchPacked(tilted, enrolled).hdRaw).toBeGreaterThan(0.4);
    const found = duplicateDistances(tilted, enrolled);
    expect(found.duplicate).toBe(true);
    expect(found.wholeHd).toBeLessThan(0.3);
  });
});
