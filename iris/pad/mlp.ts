/**
 * A small multilayer perceptron for tabular features (PAD scores), pure TypeScript and deterministic by seed:
 * standardisation fitted on the training rows, hidden layers with ReLU, one sigmoid output unit (the
 * probability of class 1), trained with Adam on mini-batches of weighted binary cross-entropy plus an L2
 * penalty on the weights (not the biases). `hidden: []` is logistic regression.
 *
 * Training runs in double precision; the returned weights (and the standardisation) are rounded to float32,
 * and mlpPredict evaluates them as models/pad/mlp-onnx.ts's graph does, so JavaScript and ONNX agree to
 * float32 rounding.
 */
import { Rng, type Seed } from '../synth/random.ts';

export interface MlpLayer {
  /** out x in. */
  weights: number[][];
  bias: number[];
}

export interface MlpWeights {
  /** One name per input column (the feature names). */
  inputNames: string[];
  /** Standardisation: the network sees (x - mean) / std. */
  mean: number[];
  std: number[];
  /** Hidden layers (ReLU) then the output layer (one unit, sigmoid). */
  layers: MlpLayer[];
}

export interface MlpTrainOptions {
  /** Hidden layer widths; [] = logistic regression. */
  hidden: number[];
  epochs: number;
  learningRate: number;
  /** L2 penalty on the weights (added to the mean loss as l2 / 2 * sum w^2). */
  l2: number;
  seed: Seed;
  /** Loss weight of class 0 and class 1 (default [1, 1]). */
  classWeights?: [number, number];
  /** Loss weight of each row (multiplies the class weight). */
  sampleWeights?: number[];
  /** Rows per Adam step (default 32). */
  batchSize?: number;
  /** Column names (default f0, f1, ...). */
  inputNames?: string[];
}

type Row = ArrayLike<number>;

const f32 = Math.fround;
/** A column whose spread is below this is passed through unscaled (std 1). */
const MIN_STD = 1e-9;

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** Fits an MLP; same data, options and seed give the same weights. */
export function trainMlp(x: ReadonlyArray<Row>, y: ArrayLike<number>, options: MlpTrainOptions): MlpWeights {
  const n = x.length;
  if (n === 0 || y.length !== n) throw new RangeError('trainMlp needs as many labels as rows, at least one');
  const f = x[0]?.length ?? 0;
  if (f === 0 || x.some((r) => r.length !== f))
    throw new RangeError('every row must have the same length > 0');
  for (let i = 0; i < n; i++) {
    if (y[i] !== 0 && y[i] !== 1) throw new RangeError(`label ${i} is ${y[i]}, expected 0 or 1`);
  }
  if (options.sampleWeights && options.sampleWeights.length !== n) {
    throw new RangeError('sampleWeights must hold one weight per row');
  }
  if (options.hidden.some((h) => !Number.isInteger(h) || h < 1)) {
    throw new RangeError('hidden layer widths must be positive integers');
  }
  const inputNames = options.inputNames ?? Array.from({ length: f }, (_, j) => `f${j}`);
  if (inputNames.length !== f)
    throw new RangeError(`inputNames holds ${inputNames.length} names for ${f} columns`);

  // Standardisation (float32, as the graph holds it).
  const mean = new Array<number>(f).fill(0);
  const std = new Array<number>(f).fill(0);
  for (const row of x) for (let j = 0; j < f; j++) mean[j] = (mean[j] as number) + (row[j] as number);
  for (let j = 0; j < f; j++) mean[j] = f32((mean[j] as number) / n);
  for (const row of x) {
    for (let j = 0; j < f; j++) std[j] = (std[j] as number) + ((row[j] as number) - (mean[j] as number)) ** 2;
  }
  for (let j = 0; j < f; j++) {
    const s = Math.sqrt((std[j] as number) / n);
    std[j] = s > MIN_STD ? f32(s) : 1;
  }
  const xs: Float64Array[] = x.map((row) => {
    const z = new Float64Array(f);
    for (let j = 0; j < f; j++)
      z[j] = f32(f32((row[j] as number) - (mean[j] as number)) / (std[j] as number));
    return z;
  });

  // Parameters, flat per layer: W (out x in, row-major) and b.
  const sizes = [f, ...options.hidden, 1];
  const L = sizes.length - 1;
  const rng = new Rng(options.seed);
  const W: Float64Array[] = [];
  const B: Float64Array[] = [];
  for (let l = 0; l < L; l++) {
    const fanIn = sizes[l] as number;
    const out = sizes[l + 1] as number;
    const w = new Float64Array(out * fanIn);
    const sd = Math.sqrt((l < L - 1 ? 2 : 1) / fanIn);
    for (let i = 0; i < w.length; i++) w[i] = rng.normal(0, sd);
    W.push(w);
    B.push(new Float64Array(out));
  }
  const params = [...W, ...B];
  const grads = params.map((p) => new Float64Array(p.length));
  const m1 = params.map((p) => new Float64Array(p.length));
  const m2 = params.map((p) => new Float64Array(p.length));
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;

  const [cw0, cw1] = options.classWeights ?? [1, 1];
  const rowWeight = Float64Array.from({ length: n }, (_, i) => {
    const c = y[i] === 1 ? cw1 : cw0;
    return c * (options.sampleWeights?.[i] ?? 1);
  });
  const meanWeight = rowWeight.reduce((a, b) => a + b, 0) / n;
  if (!(meanWeight > 0)) throw new RangeError('the row weights must have a positive sum');

  // Activations and deltas per layer for one row.
  const acts = sizes.map((s) => new Float64Array(s));
  const deltas = sizes.map((s) => new Float64Array(s));
  const batch = Math.max(1, Math.min(n, options.batchSize ?? 32));
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let step = 0;

  for (let epoch = 0; epoch < options.epochs; epoch++) {
    // Fisher-Yates shuffle from the seeded stream.
    for (let i = n - 1; i > 0; i--) {
      const k = Math.floor(rng.next() * (i + 1));
      const t = order[i] as number;
      order[i] = order[k] as number;
      order[k] = t;
    }
    for (let start = 0; start < n; start += batch) {
      const end = Math.min(n, start + batch);
      for (const g of grads) g.fill(0);
      for (let b = start; b < end; b++) {
        const i = order[b] as number;
        acts[0]?.set(xs[i] as Float64Array);
        for (let l = 0; l < L; l++) {
          const a = acts[l] as Float64Array;
          const o = acts[l + 1] as Float64Array;
          const w = W[l] as Float64Array;
          const bias = B[l] as Float64Array;
          const fanIn = a.length;
          for (let u = 0; u < o.length; u++) {
            let s = bias[u] as number;
            const off = u * fanIn;
            for (let j = 0; j < fanIn; j++) s += (w[off + j] as number) * (a[j] as number);
            o[u] = l < L - 1 && s < 0 ? 0 : s;
          }
        }
        // d(BCE)/d(logit) = p - y, weighted.
        const logit = (acts[L] as Float64Array)[0] as number;
        (deltas[L] as Float64Array)[0] =
          (sigmoid(logit) - (y[i] as number)) * ((rowWeight[i] as number) / meanWeight);
        for (let l = L - 1; l >= 0; l--) {
          const a = acts[l] as Float64Array;
          const d = deltas[l + 1] as Float64Array;
          const w = W[l] as Float64Array;
          const gw = grads[l] as Float64Array;
          const gb = grads[L + l] as Float64Array;
          const fanIn = a.length;
          for (let u = 0; u < d.length; u++) {
            const du = d[u] as number;
            if (du === 0) continue;
            gb[u] = (gb[u] as number) + du;
            const off = u * fanIn;
            for (let j = 0; j < fanIn; j++) gw[off + j] = (gw[off + j] as number) + du * (a[j] as number);
          }
          if (l > 0) {
            const dPrev = deltas[l] as Float64Array;
            for (let j = 0; j < fanIn; j++) {
              if ((a[j] as number) <= 0) {
                dPrev[j] = 0; // ReLU: no gradient where the unit was off
                continue;
              }
              let s = 0;
              for (let u = 0; u < d.length; u++) s += (d[u] as number) * (w[u * fanIn + j] as number);
              dPrev[j] = s;
            }
          }
        }
      }
      // Adam step on the batch mean (+ L2 on the weights).
      step++;
      const count = end - start;
      const c1 = 1 - beta1 ** step;
      const c2 = 1 - beta2 ** step;
      for (let p = 0; p < params.length; p++) {
        const param = params[p] as Float64Array;
        const g = grads[p] as Float64Array;
        const m = m1[p] as Float64Array;
        const v = m2[p] as Float64Array;
        const decay = p < L ? options.l2 : 0;
        for (let k = 0; k < param.length; k++) {
          const gk = (g[k] as number) / count + decay * (param[k] as number);
          const mk = beta1 * (m[k] as number) + (1 - beta1) * gk;
          const vk = beta2 * (v[k] as number) + (1 - beta2) * gk * gk;
          m[k] = mk;
          v[k] = vk;
          param[k] = (param[k] as number) - (options.learningRate * (mk / c1)) / (Math.sqrt(vk / c2) + eps);
        }
      }
    }
  }

  const layers: MlpLayer[] = [];
  for (let l = 0; l < L; l++) {
    const fanIn = sizes[l] as number;
    const out = sizes[l + 1] as number;
    const w = W[l] as Float64Array;
    layers.push({
      weights: Array.from({ length: out }, (_, u) =>
        Array.from(w.subarray(u * fanIn, (u + 1) * fanIn), (v) => f32(v)),
      ),
      bias: Array.from(B[l] as Float64Array, (v) => f32(v)),
    });
  }
  return { inputNames: [...inputNames], mean, std, layers };
}

/** The output layer's logit for one row (before the sigmoid). */
export function mlpLogit(weights: MlpWeights, row: Row): number {
  const f = weights.mean.length;
  if (row.length !== f) throw new RangeError(`expected ${f} features, got ${row.length}`);
  let a: number[] = new Array<number>(f);
  for (let j = 0; j < f; j++) {
    a[j] = f32(f32((row[j] as number) - (weights.mean[j] as number)) / (weights.std[j] as number));
  }
  const last = weights.layers.length - 1;
  weights.layers.forEach((layer, l) => {
    a = layer.weights.map((w, u) => {
      let s = layer.bias[u] as number;
      for (let j = 0; j < w.length; j++) s += (w[j] as number) * (a[j] as number);
      return l < last && s < 0 ? 0 : s;
    });
  });
  return a[0] as number;
}

/** The probability of class 1 for one row. */
export function mlpPredict(weights: MlpWeights, row: Row): number {
  return sigmoid(mlpLogit(weights, row));
}
