/**
 * Builds an ONNX graph for an MLP trained by iris/pad/mlp.ts (the PAD score head):
 *
 *   features [N, F] -> Sub(mean) -> Div(std) -> (Gemm(transB) -> Relu)* -> Gemm(transB) -> Sigmoid
 *   -> output [N, 1]
 *
 * Opset 19 / IR 9 as models/iris-code/build-onnx.ts. The feature names travel in the model's metadata
 * (`input_names`, a JSON array) so a loader can check that it computes the features the model was trained
 * on. The bytes depend only on the weights and the options (no timestamps, fixed order): a rebuild from the
 * same weights is bit-identical.
 */
import onnxProto, { type onnx } from 'onnx-proto';
import type { MlpWeights } from '../../iris/pad/mlp.ts';
import { floatTensor, IR_VERSION, int, node, OPSET } from '../iris-code/build-onnx.ts';

// onnx-proto is CommonJS: its namespace is a property of the default export at run time.
const proto = onnxProto.onnx;
const FLOAT = proto.TensorProto.DataType.FLOAT;

export const MLP_INPUT = 'features';
export const MLP_OUTPUT = 'live_score';
/** Metadata key holding the JSON array of feature names. */
export const INPUT_NAMES_KEY = 'input_names';

export interface MlpOnnxOptions {
  inputName?: string;
  outputName?: string;
  docString?: string;
  /** The graph's name (default 'mlp'). */
  graphName?: string;
  /** More metadata entries (e.g. an operating threshold), written in key order after the input names. */
  metadata?: Record<string, string>;
}

/** A float tensor's type with a symbolic batch dimension `N` first. */
function batchValueInfo(name: string, width: number): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: width }] } } },
  };
}

function checkWeights(w: MlpWeights): number {
  const f = w.mean.length;
  if (f === 0 || w.std.length !== f || w.inputNames.length !== f) {
    throw new RangeError('mean, std and inputNames must have one entry per feature');
  }
  if (w.std.some((s) => !(s > 0))) throw new RangeError('every std must be positive');
  if (w.layers.length === 0) throw new RangeError('an MLP needs at least its output layer');
  let width = f;
  w.layers.forEach((layer, l) => {
    if (layer.weights.length === 0 || layer.bias.length !== layer.weights.length) {
      throw new RangeError(`layer ${l}: weights and bias must have one row per unit`);
    }
    if (layer.weights.some((row) => row.length !== width)) {
      throw new RangeError(`layer ${l}: every weight row must hold ${width} values`);
    }
    width = layer.weights.length;
  });
  if (width !== 1) throw new RangeError(`the output layer must have one unit, it has ${width}`);
  return f;
}

export function buildMlpOnnx(weights: MlpWeights, options: MlpOnnxOptions = {}): Uint8Array {
  const f = checkWeights(weights);
  const input = options.inputName ?? MLP_INPUT;
  const output = options.outputName ?? MLP_OUTPUT;
  const initializer: onnx.ITensorProto[] = [
    floatTensor('mean', [f], weights.mean),
    floatTensor('std', [f], weights.std),
  ];
  const nodes: onnx.INodeProto[] = [
    node('Sub', [input, 'mean'], ['centred']),
    node('Div', ['centred', 'std'], ['standardised']),
  ];
  let current = 'standardised';
  const last = weights.layers.length - 1;
  weights.layers.forEach((layer, l) => {
    const out = layer.weights.length;
    const fanIn = layer.weights[0]?.length ?? 0;
    initializer.push(
      floatTensor(`w${l}`, [out, fanIn], layer.weights.flat()),
      floatTensor(`b${l}`, [out], layer.bias),
    );
    const gemm = l < last ? `gemm${l}` : 'logit';
    nodes.push(node('Gemm', [current, `w${l}`, `b${l}`], [gemm], [int('transB', 1)]));
    if (l < last) {
      nodes.push(node('Relu', [gemm], [`relu${l}`]));
      current = `relu${l}`;
    } else {
      current = gemm;
    }
  });
  nodes.push(node('Sigmoid', [current], [output]));

  const hidden = weights.layers.slice(0, -1).map((layer) => layer.weights.length);
  const model: onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'irisgate models/pad/mlp-onnx.ts',
    producerVersion: '1',
    modelVersion: 1,
    docString:
      options.docString ??
      `MLP on ${f} standardised features, hidden [${hidden.join(', ')}] (ReLU), sigmoid output.`,
    metadataProps: [
      { key: INPUT_NAMES_KEY, value: JSON.stringify(weights.inputNames) },
      ...Object.keys(options.metadata ?? {})
        .sort()
        .map((key) => ({ key, value: (options.metadata as Record<string, string>)[key] as string })),
    ],
    graph: {
      name: options.graphName ?? 'mlp',
      node: nodes,
      initializer,
      input: [batchValueInfo(input, f)],
      output: [batchValueInfo(output, 1)],
    },
  };
  return proto.ModelProto.encode(model).finish();
}
