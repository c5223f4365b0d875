/**
 * The single-frame presentation-attack detector (iris/pad/detector.ts) with the shipped models: live frames
 * pass, attacks do not and say why, a frame without an eye is never live, and the models are checked
 * against the manifest before they load.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderAttack, renderLive } from '../../iris/attacks/render-attack.ts';
import {
  createPadDetector,
  PAD_MODEL_FILE,
  type PadDetector,
  patchReasons,
  TRAINING_SET_KEY,
} from '../../iris/pad/detector.ts';
import { loadMlpModel } from '../../iris/pad/onnx-mlp.ts';
import { TRAINING_SEED, TRAINING_SET, trainingCacheKey } from '../../iris/pad/train.ts';
import { identityOf, sessionOf } from '../../iris/synth/generate.ts';
import { MODELS_DIR } from '../../models/build.ts';

const SEED = 'pad-detector-test';
const MANIFEST = new URL('../../models/manifest.json', import.meta.url);
const CARD = new URL('../../models/pad.card.md', import.meta.url);

let detector: PadDetector;
beforeAll(async () => {
  detector = await createPadDetector();
});
afterAll(() => detector.release());

function capture(id: number) {
  const identity = identityOf(SEED, id);
  return { identity, session: sessionOf(SEED, identity, 0) };
}

describe('createPadDetector', () => {
  it('carries the operating threshold from pad.onnx and both model hashes', () => {
    expect(detector.threshold).toBeGreaterThan(0);
    expect(detector.threshold).toBeLessThan(1);
    expect(detector.modelSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(detector.patchModelSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("was trained on train:pad's default set as the code measures it now, and its card says so", async () => {
    const { identities, sessions } = TRAINING_SET;
    const key = trainingCacheKey(TRAINING_SEED, identities, sessions);
    const model = await loadMlpModel(`${MODELS_DIR}${PAD_MODEL_FILE}`);
    await model.release();
    expect(model.metadata[TRAINING_SET_KEY]).toBe(key);
    const card = readFileSync(CARD, 'utf8');
    expect(card).toMatch(
      new RegExp(`seed \`${TRAINING_SEED}\`: ${identities} identities x\\s+${sessions} sessions`),
    );
    expect(card).toContain(`Measured as \`${key}\``);
  });

  it('calls live eyes live and gives no reasons', async () => {
    for (const id of [0, 1, 2]) {
      const { identity, session } = capture(id);
      const verdict = await detector.assess(renderLive(identity, session).image);
      expect(verdict).toMatchObject({ live: true, reasons: [] });
      expect(verdict.score).toBeGreaterThanOrEqual(detector.threshold);
    }
  });

  it('refuses prints, screens and prosthetic eyes, each with a reason', async () => {
    const reasons = new Set<string>();
    for (const id of [0, 1]) {
      const { identity, session } = capture(id);
      for (const kind of ['print', 'screen', 'prosthetic'] as const) {
        const verdict = await detector.assess(renderAttack({ kind, identity, session, seed: 1 }).image);
        expect(verdict.live, `${kind} of ${id}`).toBe(false);
        expect(verdict.score).toBeLessThan(detector.threshold);
        expect(verdict.reasons.length).toBeGreaterThan(0);
        for (const r of verdict.reasons) reasons.add(r);
      }
    }
    // Most are measured and refused by the frame model; a few never segment (the pipeline's reason).
    expect(reasons).toContain('presentation_attack');
  });

  it('never calls a frame without an eye live: the pipeline reason, score 0', async () => {
    const blank = { width: 640, height: 480, data: new Uint8Array(640 * 480).fill(128) };
    expect(await detector.assess(blank)).toEqual({
      live: false,
      score: 0,
      reasons: ['no_eye_found'],
      patchFraction: 0,
    });
  });

  it('names what lies over the eye: a masked share at the patch limit, a covered limbus, both or neither', () => {
    expect(patchReasons(0.1, 0.188, 0.5)).toEqual([]);
    expect(patchReasons(0.188, 0.188, 0.5)).toEqual(['patch_detected']);
    expect(patchReasons(0.1, 0.188, 1)).toEqual(['limbus_covered']);
    expect(patchReasons(0.3, 0.188, 2)).toEqual(['patch_detected', 'limbus_covered']);
    // An undecidable limbus (no sclera beside the iris) does not refuse.
    expect(patchReasons(0.1, 0.188, Number.NaN)).toEqual([]);
  });

  it('honours an explicit threshold', async () => {
    const strict = await createPadDetector({ threshold: 1.01 });
    try {
      const { identity, session } = capture(1);
      expect((await strict.assess(renderLive(identity, session).image)).live).toBe(false);
    } finally {
      await strict.release();
    }
  });

  it('refuses to load a model the manifest does not list with that sha256', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'irisgate-pad-'));
    try {
      const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as {
        models: { file: string; sha256: string }[];
      };
      for (const m of manifest.models) if (m.file === 'pad.onnx') m.sha256 = '0'.repeat(64);
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      await expect(createPadDetector({ manifestPath: join(dir, 'manifest.json') })).rejects.toMatchObject({
        code: 'model_hash_mismatch',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
