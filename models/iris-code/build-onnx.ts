/**
 * Builds models/iris-code.onnx: the open-iris filter bank (gabor.ts) as an ONNX graph, evaluated only at the
 * 16 x 256 probe points. Everything in the graph is a constant derived from the parameters in gabor.ts, and
 * the bytes depend on nothing else (no timestamps, fixed order), so a rebuild is bit-identical.
 *
 * Graph (opset 19, IR 9):
 *   image [1,1,128,512] -> Clip(0,1) -> Mul(255) -> Round          (open-iris feeds the filters uint8 0..255)
 *   Concat(image255, mask) [1,2,128,512] -> Pad(wrap, 20 columns each side)        (angular axis periodic)
 *   for each run of probe rows sharing one radial patch shape (rows 0, 1, 2-14, 15):
 *     Slice(the image rows the patches use) -> Conv(group 2, strides [8 or 1, 2])
 *       channels 0-3 read the image: filter 0 real, filter 0 imaginary, filter 1 real, filter 1 imaginary
 *       channels 4-7 read the mask with the absolute values of the same kernels
 *   Concat(rows) [1,8,16,256] -> Div(per channel and probe row) -> Transpose -> [1,16,256,8]
 *   Split -> Reshape -> response [16,256,2,2], mask_response [16,256,2,2]   (iris-code order)
 * Filter 1 (17 columns) sits centred in a 41-column kernel so that both filters share one Conv.
 */
import onnxProto, { type onnx } from 'onnx-proto';
import { NORMALIZED_HEIGHT, NORMALIZED_WIDTH } from '../../protocol/iris-code-layout.ts';
import {
  type GaborKernel,
  OPEN_IRIS_KERNELS,
  PROBE_COLUMNS,
  PROBE_ROWS,
  probeColumnPixel,
  probeRowPixel,
} from './gabor.ts';

export const IRIS_CODE_MODEL_FILE = 'iris-code.onnx';
export const INPUT_IMAGE = 'image';
export const INPUT_MASK = 'mask';
export const OUTPUT_RESPONSE = 'response';
export const OUTPUT_MASK_RESPONSE = 'mask_response';
export const OPSET = 19;
export const IR_VERSION = 9;

// onnx-proto is CommonJS: its namespace is a property of the default export at run time.
const proto = onnxProto.onnx;
const FLOAT = proto.TensorProto.DataType.FLOAT;
const INT64 = proto.TensorProto.DataType.INT64;
const AttrType = proto.AttributeProto.AttributeType;

/** The image rows one probe row's patch uses, and the kernel rows they meet (open-iris _convolve). */
export interface RadialPatch {
  top: number;
  rows: number;
  kernelTop: number;
}

export function radialPatch(probeRow: number, kernelRows: number): RadialPatch {
  const half = (kernelRows - 1) / 2;
  const r = probeRowPixel(probeRow);
  const top = Math.max(0, r - half);
  // open-iris bounds the patch end by rows - 1 (exclusive), so the last image row never takes part.
  const bottom = Math.min(r + half + 1, NORMALIZED_HEIGHT - 1);
  const rows = bottom - top;
  return { top, rows, kernelTop: half - Math.floor(rows / 2) };
}

/** Consecutive probe rows with the same patch shape and a constant step: one strided Conv each. */
interface RowRun {
  first: number;
  count: number;
  patch: RadialPatch;
  step: number;
}

function rowRuns(kernelRows: number): RowRun[] {
  const runs: RowRun[] = [];
  for (let i = 0; i < PROBE_ROWS; i++) {
    const patch = radialPatch(i, kernelRows);
    const last = runs.at(-1);
    if (last && last.patch.rows === patch.rows && last.patch.kernelTop === patch.kernelTop) {
      const lastTop = last.patch.top + last.step * (last.count - 1);
      const step = patch.top - lastTop;
      if (step > 0 && (last.count === 1 || step === last.step)) {
        last.step = step;
        last.count++;
        continue;
      }
    }
    runs.push({ first: i, count: 1, patch, step: 1 });
  }
  return runs;
}

export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] ?? 0, true);
  return { name, dims, dataType: FLOAT, rawData: bytes };
}

function int64Tensor(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => {
    view.setBigInt64(i * 8, BigInt(v), true);
  });
  return { name, dims, dataType: INT64, rawData: bytes };
}

function ints(name: string, values: number[]): onnx.IAttributeProto {
  return { name, type: AttrType.INTS, ints: values };
}

export function int(name: string, value: number): onnx.IAttributeProto {
  return { name, type: AttrType.INT, i: value };
}

function str(name: string, value: string): onnx.IAttributeProto {
  return { name, type: AttrType.STRING, s: new TextEncoder().encode(value) };
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attribute: onnx.IAttributeProto[] = [],
): onnx.INodeProto {
  return { opType, input: inputs, output: outputs, name: outputs[0] ?? opType, attribute };
}

function valueInfo(name: string, dims: number[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  };
}

/** Conv weights [8, 1, rows, width] for kernel rows [kernelTop, kernelTop + rows) of both filters. */
function convWeights(kernels: readonly GaborKernel[], width: number, patch: RadialPatch): Float32Array {
  const channels = kernels.length * 2;
  const w = new Float32Array(2 * channels * patch.rows * width);
  kernels.forEach((kernel, f) => {
    const offset = (width - kernel.cols) / 2;
    for (let part = 0; part < 2; part++) {
      const values = part === 0 ? kernel.real : kernel.imag;
      for (let dr = 0; dr < patch.rows; dr++) {
        for (let c = 0; c < kernel.cols; c++) {
          const v = values[(patch.kernelTop + dr) * kernel.cols + c] ?? 0;
          const at = dr * width + offset + c;
          w[(f * 2 + part) * patch.rows * width + at] = v;
          w[(channels + f * 2 + part) * patch.rows * width + at] = Math.abs(v);
        }
      }
    }
  });
  return w;
}

/** Per output channel and probe row: what open-iris divides the sum by. */
function divisors(kernels: readonly GaborKernel[], kernelRows: number): Float32Array {
  const channels = kernels.length * 2;
  const d = new Float32Array(2 * channels * PROBE_ROWS);
  for (let i = 0; i < PROBE_ROWS; i++) {
    const patch = radialPatch(i, kernelRows);
    kernels.forEach((kernel, f) => {
      for (let part = 0; part < 2; part++) {
        const values = part === 0 ? kernel.real : kernel.imag;
        const norm = part === 0 ? kernel.normReal : kernel.normImag;
        // Responses: patch rows x kernel columns x kernel norm.
        d[(f * 2 + part) * PROBE_ROWS + i] = patch.rows * kernel.cols * norm;
        // Mask responses: the absolute kernel weight of the rows used (integers, exact in float32).
        let total = 0;
        for (let k = patch.kernelTop * kernel.cols; k < (patch.kernelTop + patch.rows) * kernel.cols; k++) {
          total += Math.abs(values[k] ?? 0);
        }
        d[(channels + f * 2 + part) * PROBE_ROWS + i] = total;
      }
    });
  }
  return d;
}

export function buildIrisCodeModel(): Uint8Array {
  const kernels = OPEN_IRIS_KERNELS;
  const kernelRows = kernels[0].rows;
  if (kernels.some((k) => k.rows !== kernelRows)) throw new Error('the filters must share one radial size');
  const width = Math.max(...kernels.map((k) => k.cols));
  const padCols = (width - 1) / 2;
  const colStep = probeColumnPixel(1) - probeColumnPixel(0);
  for (let j = 0; j < PROBE_COLUMNS; j++) {
    if (probeColumnPixel(j) !== j * colStep) throw new Error('probe columns must be regular from 0');
  }
  const channels = kernels.length * 2;
  const H = NORMALIZED_HEIGHT;
  const W = NORMALIZED_WIDTH;

  const initializer: onnx.ITensorProto[] = [
    floatTensor('zero', [], [0]),
    floatTensor('one', [], [1]),
    floatTensor('scale_255', [], [255]),
    int64Tensor('pads', [8], [0, 0, 0, padCols, 0, 0, 0, padCols]),
    int64Tensor('row_axis', [1], [2]),
  ];
  const nodes: onnx.INodeProto[] = [
    node('Clip', [INPUT_IMAGE, 'zero', 'one'], ['image_clipped']),
    node('Mul', ['image_clipped', 'scale_255'], ['image_255']),
    node('Round', ['image_255'], ['image_u8']),
    node('Concat', ['image_u8', INPUT_MASK], ['planes'], [int('axis', 1)]),
    node('Pad', ['planes', 'pads'], ['planes_wrapped'], [str('mode', 'wrap')]),
  ];
  const rowOutputs: string[] = [];
  rowRuns(kernelRows).forEach((run, n) => {
    const start = run.patch.top;
    const end = run.patch.top + run.step * (run.count - 1) + run.patch.rows;
    initializer.push(
      int64Tensor(`rows_${n}_start`, [1], [start]),
      int64Tensor(`rows_${n}_end`, [1], [end]),
      floatTensor(
        `weights_${n}`,
        [2 * channels, 1, run.patch.rows, width],
        convWeights(kernels, width, run.patch),
      ),
    );
    nodes.push(
      node('Slice', ['planes_wrapped', `rows_${n}_start`, `rows_${n}_end`, 'row_axis'], [`rows_${n}`]),
      node(
        'Conv',
        [`rows_${n}`, `weights_${n}`],
        [`sums_${n}`],
        [
          ints('kernel_shape', [run.patch.rows, width]),
          ints('strides', [run.step, colStep]),
          ints('pads', [0, 0, 0, 0]),
          ints('dilations', [1, 1]),
          int('group', 2),
        ],
      ),
    );
    rowOutputs.push(`sums_${n}`);
  });
  initializer.push(
    floatTensor('divisors', [1, 2 * channels, PROBE_ROWS, 1], divisors(kernels, kernelRows)),
    int64Tensor('split', [2], [channels, channels]),
    int64Tensor('code_shape', [4], [PROBE_ROWS, PROBE_COLUMNS, kernels.length, 2]),
  );
  nodes.push(
    node('Concat', rowOutputs, ['sums'], [int('axis', 2)]),
    node('Div', ['sums', 'divisors'], ['responses']),
    node('Transpose', ['responses'], ['responses_nhwc'], [ints('perm', [0, 2, 3, 1])]),
    node('Split', ['responses_nhwc', 'split'], ['response_cells', 'mask_cells'], [int('axis', 3)]),
    node('Reshape', ['response_cells', 'code_shape'], [OUTPUT_RESPONSE]),
    node('Reshape', ['mask_cells', 'code_shape'], [OUTPUT_MASK_RESPONSE]),
  );

  const codeDims = [PROBE_ROWS, PROBE_COLUMNS, kernels.length, 2];
  const model: onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'irisgate models/build.ts',
    producerVersion: '1',
    modelVersion: 1,
    docString:
      'open-iris 1.11.0 iris-code filter bank: 2 Gabor filters at 16 x 256 probe points of the 128 x 512 ' +
      'rubber-sheet image; response and mask_response in iris-code order (row, column, filter, real/imag). ' +
      'See models/iris-code.card.md.',
    graph: {
      name: 'iris_code',
      node: nodes,
      initializer,
      input: [valueInfo(INPUT_IMAGE, [1, 1, H, W]), valueInfo(INPUT_MASK, [1, 1, H, W])],
      output: [valueInfo(OUTPUT_RESPONSE, codeDims), valueInfo(OUTPUT_MASK_RESPONSE, codeDims)],
    },
  };
  return proto.ModelProto.encode(model).finish();
}
