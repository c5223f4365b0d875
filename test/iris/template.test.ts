import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IrisgateError } from '../../protocol/errors.ts';
import { CODE_BITS, codeBitIndex, type IrisCode } from '../../protocol/iris-code-layout.ts';
import { decodeIrisTemplate, encodeIrisTemplate } from '../../protocol/iris-template.ts';

/** shared/ sits beside the repository (CI clones it there), so three levels up from test/iris/. */
const EXPECTED_OUTPUT = new URL('../../../shared/external/open-iris/expected-output.json', import.meta.url);

interface ExpectedOutput {
  iris_template: { iris_codes: string; mask_codes: string; iris_code_version: string };
}
const sample = (JSON.parse(readFileSync(EXPECTED_OUTPUT, 'utf8')) as ExpectedOutput).iris_template;

function count(bits: Uint8Array): number {
  return bits.reduce((sum, bit) => sum + bit, 0);
}

function expectInvalid(json: unknown, message: RegExp): void {
  try {
    decodeIrisTemplate(json);
  } catch (error) {
    expect(error).toBeInstanceOf(IrisgateError);
    expect((error as IrisgateError).code).toBe('invalid_template');
    expect((error as IrisgateError).message).toMatch(message);
    return;
  }
  expect.fail('decodeIrisTemplate accepted an invalid template');
}

const base64Of = (length: number) => Buffer.alloc(length, 0xa5).toString('base64');

describe('open-iris template wire format', () => {
  it("decodes open-iris's own template and re-encodes it byte for byte", () => {
    const code = decodeIrisTemplate(sample);
    expect(code.code.length).toBe(CODE_BITS);
    expect(code.mask.length).toBe(CODE_BITS);
    expect(count(code.mask)).toBe(12_194);
    const encoded = encodeIrisTemplate(code);
    expect(encoded).toEqual({
      iris_codes: sample.iris_codes,
      mask_codes: sample.mask_codes,
      iris_code_version: 'v0.1',
    });
  });

  it('packs bits big-endian within each byte, in C order of (16, 256, 2, 2)', () => {
    // The sample's first code byte is 0x05 = 0b00000101: elements 5 and 7 are set, 0-4 and 6 are not.
    const code = decodeIrisTemplate(sample).code;
    expect(Buffer.from(sample.iris_codes, 'base64')[0]).toBe(0x05);
    expect([...code.subarray(0, 8)]).toEqual([0, 0, 0, 0, 0, 1, 0, 1]);
    // One set bit at (row 1, column 2, filter 1, part 0) = element 1034 lands in byte 129, bit 7 - 2 = 5.
    const single: IrisCode = { code: new Uint8Array(CODE_BITS), mask: new Uint8Array(CODE_BITS) };
    const index = codeBitIndex(1, 2, 1, 0);
    expect(index).toBe(1034);
    single.code[index] = 1;
    const bytes = Buffer.from(encodeIrisTemplate(single).iris_codes, 'base64');
    expect(bytes.length).toBe(2048);
    expect(bytes[129]).toBe(0b0010_0000);
    expect(bytes.filter((byte) => byte !== 0).length).toBe(1);
  });

  it('round-trips random codes', () => {
    const code = new Uint8Array(CODE_BITS).map(() => (Math.random() < 0.5 ? 1 : 0));
    const mask = new Uint8Array(CODE_BITS).map(() => (Math.random() < 0.8 ? 1 : 0));
    const decoded = decodeIrisTemplate(JSON.parse(JSON.stringify(encodeIrisTemplate({ code, mask }))));
    expect(decoded.code).toEqual(code);
    expect(decoded.mask).toEqual(mask);
  });

  it('ignores extra properties, as open-iris does (image_id)', () => {
    const decoded = decodeIrisTemplate({ ...sample, image_id: 'left-eye-1' });
    expect(count(decoded.mask)).toBe(12_194);
  });

  it('rejects a wrong or missing version', () => {
    expectInvalid(
      { ...sample, iris_code_version: 'v0.2' },
      /unsupported iris_code_version "v0\.2", expected "v0\.1"/,
    );
    expectInvalid({ ...sample, iris_code_version: 1 }, /unsupported iris_code_version number/);
    const { iris_code_version: _, ...noVersion } = sample;
    expectInvalid(noVersion, /missing field iris_code_version/);
  });

  it('rejects missing or non-string fields and non-objects', () => {
    const { iris_codes: _, ...noCodes } = sample;
    expectInvalid(noCodes, /missing field iris_codes/);
    const { mask_codes: __, ...noMask } = sample;
    expectInvalid(noMask, /missing field mask_codes/);
    expectInvalid({ ...sample, mask_codes: [1, 2] }, /mask_codes must be a base64 string, got an array/);
    expectInvalid(null, /must be a JSON object, got null/);
    expectInvalid([sample], /must be a JSON object, got an array/);
    expectInvalid(JSON.stringify(sample), /must be a JSON object, got string/);
  });

  it('rejects anything but canonical padded base64', () => {
    const bad = (text: string) =>
      expectInvalid({ ...sample, iris_codes: text }, /iris_codes is not valid padded base64/);
    bad(`*${sample.iris_codes.slice(1)}`); // outside the alphabet
    bad(sample.iris_codes.replaceAll('+', '-').replaceAll('/', '_').replace('9', '-')); // URL alphabet
    bad(sample.iris_codes.slice(0, -1)); // padding dropped
    bad(`${sample.iris_codes.slice(0, 100)}\n${sample.iris_codes.slice(100)}`); // whitespace
    bad(`${sample.iris_codes.slice(0, 100)}=${sample.iris_codes.slice(101)}`); // padding inside
    // 2,048 bytes end in one '=' after 3 characters holding 16 bits + 2 unused bits that must be zero.
    const last = sample.iris_codes.at(-2) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const withUnusedBit = alphabet[alphabet.indexOf(last) ^ 1] as string;
    bad(`${sample.iris_codes.slice(0, -2)}${withUnusedBit}=`);
  });

  it('rejects a wrong decoded length', () => {
    expectInvalid(
      { ...sample, iris_codes: base64Of(2047) },
      /iris_codes decodes to 2047 bytes, expected 2048/,
    );
    expectInvalid(
      { ...sample, mask_codes: base64Of(2049) },
      /mask_codes decodes to 2049 bytes, expected 2048/,
    );
    expectInvalid({ ...sample, mask_codes: '' }, /mask_codes decodes to 0 bytes, expected 2048/);
  });

  it('refuses to encode a malformed iris code', () => {
    const ok = new Uint8Array(CODE_BITS);
    expect(() => encodeIrisTemplate({ code: new Uint8Array(100), mask: ok })).toThrow(
      expect.objectContaining({ code: 'invalid_iris_code' }),
    );
    const two = new Uint8Array(CODE_BITS);
    two[7] = 2;
    expect(() => encodeIrisTemplate({ code: ok, mask: two })).toThrow(/the mask holds 2 at index 7/);
  });
});
