/**
 * The open-iris wire format of an iris template (open-iris `IrisTemplate.serialize()`, version "v0.1"):
 *
 *   { "iris_codes": string, "mask_codes": string, "iris_code_version": "v0.1" }
 *
 * Each string is standard base64 (RFC 4648, with padding) of numpy's `packbits` of the boolean array of
 * shape (16, 256, 2, 2) in C order: element i (the index of protocol/iris-code-layout.ts) is bit
 * `7 - (i % 8)` of byte `floor(i / 8)` (big-endian bit order within each byte), so 16,384 bits make
 * 2,048 bytes, 2,732 base64 characters.
 */

import { IrisgateError } from './errors.ts';
import { CODE_BITS, type IrisCode } from './iris-code-layout.ts';

export const IRIS_CODE_VERSION = 'v0.1';
/** Bytes of one packed array (code or mask). */
export const PACKED_TEMPLATE_BYTES = CODE_BITS / 8;

export interface WireTemplate {
  iris_codes: string;
  mask_codes: string;
  iris_code_version: typeof IRIS_CODE_VERSION;
}

export function encodeIrisTemplate(code: IrisCode): WireTemplate {
  return {
    iris_codes: toBase64(packBits(code.code, 'code')),
    mask_codes: toBase64(packBits(code.mask, 'mask')),
    iris_code_version: IRIS_CODE_VERSION,
  };
}

/** The template's packed bytes, code then mask (4,096 bytes): what signatures over a template cover. */
export function packedTemplateBytes(code: IrisCode): Uint8Array {
  const out = new Uint8Array(2 * PACKED_TEMPLATE_BYTES);
  out.set(packBits(code.code, 'code'));
  out.set(packBits(code.mask, 'mask'), PACKED_TEMPLATE_BYTES);
  return out;
}

/**
 * Parses a template in the wire format. Strict: `json` must be an object whose `iris_code_version` is
 * "v0.1" and whose `iris_codes` and `mask_codes` are canonical padded base64 of exactly 2,048 bytes;
 * anything else throws IrisgateError('invalid_template') naming the field and the fault. Other
 * properties (open-iris's `image_id`, for one) are ignored, as open-iris's own deserialiser ignores them.
 */
export function decodeIrisTemplate(json: unknown): IrisCode {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid(`a template must be a JSON object, got ${describe(json)}`);
  }
  const record = json as Record<string, unknown>;
  const version = record.iris_code_version;
  if (version === undefined) throw invalid('missing field iris_code_version');
  if (version !== IRIS_CODE_VERSION) {
    throw invalid(
      `unsupported iris_code_version ${typeof version === 'string' ? JSON.stringify(version) : describe(version)}, expected "${IRIS_CODE_VERSION}"`,
    );
  }
  return {
    code: unpackBits(decodeField(record, 'iris_codes')),
    mask: unpackBits(decodeField(record, 'mask_codes')),
  };
}

function decodeField(record: Record<string, unknown>, field: 'iris_codes' | 'mask_codes'): Uint8Array {
  const value = record[field];
  if (value === undefined) throw invalid(`missing field ${field}`);
  if (typeof value !== 'string') throw invalid(`${field} must be a base64 string, got ${describe(value)}`);
  const bytes = fromCanonicalBase64(value);
  if (bytes === undefined) throw invalid(`${field} is not valid padded base64`);
  if (bytes.length !== PACKED_TEMPLATE_BYTES) {
    throw invalid(`${field} decodes to ${bytes.length} bytes, expected ${PACKED_TEMPLATE_BYTES}`);
  }
  return bytes;
}

/** Decodes standard padded base64, or returns undefined for any other text (URL alphabet, whitespace,
 * missing or misplaced padding, non-zero unused bits). */
function fromCanonicalBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    return undefined;
  }
  const buffer = Buffer.from(text, 'base64');
  // Buffer ignores non-zero bits in the last character; the re-encoding then differs from the input.
  if (buffer.toString('base64') !== text) return undefined;
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function packBits(bits: Uint8Array, name: 'code' | 'mask'): Uint8Array {
  if (bits.length !== CODE_BITS) {
    throw new IrisgateError(
      'invalid_iris_code',
      `the ${name} holds ${bits.length} values, expected ${CODE_BITS}`,
    );
  }
  const packed = new Uint8Array(PACKED_TEMPLATE_BYTES);
  for (let i = 0; i < CODE_BITS; i++) {
    const bit = bits[i] as number;
    if (bit > 1) {
      throw new IrisgateError('invalid_iris_code', `the ${name} holds ${bit} at index ${i}, expected 0 or 1`);
    }
    packed[i >> 3] = (packed[i >> 3] as number) | (bit << (7 - (i & 7)));
  }
  return packed;
}

function unpackBits(packed: Uint8Array): Uint8Array {
  const bits = new Uint8Array(CODE_BITS);
  for (let i = 0; i < CODE_BITS; i++) bits[i] = ((packed[i >> 3] as number) >> (7 - (i & 7))) & 1;
  return bits;
}

function invalid(message: string): IrisgateError {
  return new IrisgateError('invalid_template', `invalid iris template: ${message}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
