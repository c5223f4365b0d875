import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MlpWeights, mlpPredict, trainMlp } from '../../iris/pad/mlp.ts';
import { loadMlpModel } from '../../iris/pad/onnx-mlp.ts';
import { Rng } from '../../iris/synth/random.ts';
import { buildMlpOnnx } from '../../models/pad/mlp-onnx.ts';
import { IrisgateError } from '../../protocol/errors.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** XOR of two signs, with noise: not linearly separable. */
function xorSet(seed: string, n: number): { x: number[][]; y: number[] } {
  const rng = new Rng(seed);
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = rng.uniform(-1, 1);
    const b = rng.uniform(-1, 1);
    x.push([3 * a + 10, 0.5 * b - 2]); // offsets and scales the standardisation must undo
    y.push(a * b > 0 ? 1 : 0);
  }
  return { x, y };
}

/** Two Gaussian clouds on either side of a line. */
function linearSet(seed: string, n: number): { x: Float32Array[]; y: Uint8Array } {
  const rng = new Rng(seed);
  const x: Float32Array[] = [];
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const shift = label ? 1.5 : -1.5;
    x.push(Float32Array.of(rng.normal(shift, 0.6), rng.normal(-shift, 0.6), rng.normal(0, 1)));
    y[i] = label;
  }
  return { x, y };
}

function accuracy(w: MlpWeights, x: ArrayLike<number>[], y: ArrayLike<number>): number {
  let right = 0;
  x.forEach((row, i) => {
    if (mlpPredict(w, row) >= 0.5 === (y[i] === 1)) right++;
  });
  return right / x.length;
}

describe('trainMlp', () => {
  it('learns XOR with a hidden layer, which logistic regression cannot', () => {
    const train = xorSet('xor-train', 600);
    const test = xorSet('xor-test', 400);
    const opts = { epochs: 150, learningRate: 0.01, l2: 1e-4, seed: 3 };
    const mlp = trainMlp(train.x, train.y, { ...opts, hidden: [16] });
    expect(accuracy(mlp, test.x, test.y)).toBeGreaterThan(0.93);
    const linear = trainMlp(train.x, train.y, { ...opts, hidden: [] });
    expect(accuracy(linear, test.x, test.y)).toBeLessThan(0.7);
  });

  it('separates a linear problem with hidden [] (logistic regression)', () => {
    const train = linearSet('lin-train', 400);
    const test = linearSet('lin-test', 400);
    const w = trainMlp(train.x, train.y, { hidden: [], epochs: 60, learningRate: 0.02, l2: 0, seed: 1 });
    expect(w.layers).toHaveLength(1);
    expect(w.layers[0]?.weights[0]).toHaveLength(3);
    expect(accuracy(w, test.x, test.y)).toBeGreaterThan(0.97);
  });

  it('gives identical weights for the same seed and other weights for another seed', () => {
    const { x, y } = xorSet('xor-seed', 200);
    const opts = { hidden: [8, 4], epochs: 20, learningRate: 0.01, l2: 1e-4 };
    const a = trainMlp(x, y, { ...opts, seed: 'a' });
    const b = trainMlp(x, y, { ...opts, seed: 'a' });
    const c = trainMlp(x, y, { ...opts, seed: 'c' });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
    // float32 weights and standardisation
    for (const layer of a.layers) {
      for (const row of layer.weights) for (const v of row) expect(Math.fround(v)).toBe(v);
      for (const v of layer.bias) expect(Math.fround(v)).toBe(v);
    }
    for (const v of [...a.mean, ...a.std]) expect(Math.fround(v)).toBe(v);
  });

  it('moves the decision towards the class given more weight', () => {
    const { x, y } = xorSet('xor-cw', 300);
    const opts = { hidden: [], epochs: 40, learningRate: 0.02, l2: 0, seed: 5 };
    const mean = (w: MlpWeights) => x.reduce((s, r) => s + mlpPredict(w, r), 0) / x.length;
    const plain = trainMlp(x, y, opts);
    const towardsOne = trainMlp(x, y, { ...opts, classWeights: [1, 4] });
    const byRow = trainMlp(x, y, { ...opts, sampleWeights: y.map((v) => (v ? 4 : 1)) });
    expect(mean(towardsOne)).toBeGreaterThan(mean(plain) + 0.15);
    expect(mean(byRow)).toBeCloseTo(mean(towardsOne), 6);
  });

  it('refuses malformed input', () => {
    const opts = { hidden: [], epochs: 1, learningRate: 0.01, l2: 0, seed: 1 };
    expect(() => trainMlp([], [], opts)).toThrow(RangeError);
    expect(() => trainMlp([[1, 2]], [2], opts)).toThrow(RangeError);
    expect(() => trainMlp([[1, 2], [1]], [0, 1], opts)).toThrow(RangeError);
  });
});

describe('MLP as ONNX', () => {
  let dir: string;
  let weights: MlpWeights;
  let bytes: Uint8Array;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'irisgate-pad-mlp-'));
    const { x, y } = xorSet('xor-onnx', 300);
    weights = trainMlp(x, y, {
      hidden: [12, 6],
      epochs: 30,
      learningRate: 0.01,
      l2: 1e-4,
      seed: 9,
      inputNames: ['a', 'b'],
    });
    bytes = buildMlpOnnx(weights, { docString: 'test' });
    writeFileSync(join(dir, 'pad-test.onnx'), bytes);
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ models: [{ file: 'pad-test.onnx', sha256: sha256(bytes) }] }),
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the same bytes from the same weights', () => {
    expect(sha256(buildMlpOnnx(weights, { docString: 'test' }))).toBe(sha256(bytes));
  });

  it('scores random rows as mlpPredict does, to 1e-5', async () => {
    const model = await loadMlpModel(join(dir, 'pad-test.onnx'), {
      manifestPath: join(dir, 'manifest.json'),
    });
    try {
      expect(model.sha256).toBe(sha256(bytes));
      expect(model.inputNames).toEqual(['a', 'b']);
      const rng = new Rng('rows');
      const n = 500;
      const rows = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) {
        rows[2 * i] = rng.uniform(4, 16);
        rows[2 * i + 1] = rng.uniform(-3, -1);
      }
      const scores = await model.predict(rows, n, 2);
      expect(scores).toHaveLength(n);
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const expected = mlpPredict(weights, rows.subarray(2 * i, 2 * i + 2));
        worst = Math.max(worst, Math.abs((scores[i] as number) - expected));
      }
      expect(worst).toBeLessThan(1e-5);
      await expect(model.predict(rows, n, 3)).rejects.toMatchObject({ code: 'invalid_argument' });
    } finally {
      await model.release();
    }
  });

  it('runs logistic regression (no hidden layer) too', async () => {
    const { x, y } = linearSet('lin-onnx', 100);
    const w = trainMlp(x, y, { hidden: [], epochs: 10, learningRate: 0.02, l2: 0, seed: 2 });
    const file = join(dir, 'lr.onnx');
    const lr = buildMlpOnnx(w);
    writeFileSync(file, lr);
    const manifest = join(dir, 'lr-manifest.json');
    writeFileSync(manifest, JSON.stringify({ models: [{ file: 'lr.onnx', sha256: sha256(lr) }] }));
    const model = await loadMlpModel(file, { manifestPath: manifest });
    try {
      const rows = new Float32Array(x.flatMap((r) => [...r]));
      const scores = await model.predict(rows, x.length, 3);
      x.forEach((row, i) => {
        expect(Math.abs((scores[i] as number) - mlpPredict(w, row))).toBeLessThan(1e-5);
      });
    } finally {
      await model.release();
    }
  });

  it('refuses a model whose sha256 is not the manifest entry, or that the manifest does not list', async () => {
    // Same file name as the listed model, other bytes.
    mkdirSync(join(dir, 'tampered'));
    const tampered = join(dir, 'tampered', 'pad-test.onnx');
    writeFileSync(tampered, buildMlpOnnx(weights, { docString: 'tampered' }));
    const manifestPath = join(dir, 'manifest.json');
    const refused = loadMlpModel(tampered, { manifestPath });
    await expect(refused).rejects.toBeInstanceOf(IrisgateError);
    await expect(refused).rejects.toMatchObject({ code: 'model_hash_mismatch' });

    const unlisted = join(dir, 'unlisted.onnx');
    writeFileSync(unlisted, bytes);
    await expect(loadMlpModel(unlisted, { manifestPath })).rejects.toMatchObject({
      code: 'model_hash_mismatch',
    });
    await expect(
      loadMlpModel(join(dir, 'pad-test.onnx'), { manifestPath: join(dir, 'missing.json') }),
    ).rejects.toMatchObject({
      code: 'model_hash_mismatch',
    });
  });
});
