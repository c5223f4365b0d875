import { describe, expect, it } from 'vitest';
import { CanonicalWriter, canonicalMessage } from '../../protocol/canonical.ts';
import { deviceAuthSigningBytes, frameSigningBytes } from '../../protocol/device-messages.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('canonical encoding', () => {
  it('writes each primitive in exactly one way (hand-computed bytes)', () => {
    const bytes = new CanonicalWriter()
      .u8(7)
      .u32(0x01020304)
      .u64(2 ** 40 + 5)
      .f64(-0)
      .f64(1.5)
      .bytes(Uint8Array.of(0xaa, 0xbb))
      .string('é')
      .list([1, 2], (w, v) => w.u8(v))
      .finish();
    expect(hex(bytes)).toBe(
      [
        '07',
        '01020304',
        '0000010000000005',
        '0000000000000000', // -0 is written as 0
        '3ff8000000000000',
        '00000002aabb',
        '00000002c3a9',
        '000000020102',
      ].join(''),
    );
  });

  it('refuses values it cannot write canonically', () => {
    const w = new CanonicalWriter();
    expect(() => w.u8(256)).toThrow(RangeError);
    expect(() => w.u32(-1)).toThrow(RangeError);
    expect(() => w.u64(2 ** 53)).toThrow(RangeError);
    expect(() => w.u64(1.5)).toThrow(RangeError);
    expect(() => w.f64(Number.NaN)).toThrow(RangeError);
    expect(() => w.f64(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => w.string('\ud800')).toThrow(RangeError);
    expect(() => w.string('a\udc00')).toThrow(RangeError);
    expect(hex(new CanonicalWriter().string('😀').finish())).toBe('00000004f09f9880');
  });
});

describe('device messages', () => {
  const challenge = new Uint8Array(32).fill(9);
  const auth = { audience: 'backend.example', deviceId: 'ig-1', challenge, issuedAtMs: 1000 };
  const frame = {
    deviceId: 'ig-1',
    sessionNonce: new Uint8Array(32).fill(1),
    sequence: 3,
    capturedAtMs: 5000,
    frameSha256: new Uint8Array(32).fill(2),
    previousFrameSha256: new Uint8Array(32).fill(3),
  };

  it('binds the audience, device, challenge and time of an authentication', () => {
    const base = deviceAuthSigningBytes(auth);
    for (const change of [
      { audience: 'other.example' },
      { deviceId: 'ig-2' },
      { challenge: new Uint8Array(32).fill(8) },
      { issuedAtMs: 1001 },
    ]) {
      expect(deviceAuthSigningBytes({ ...auth, ...change })).not.toEqual(base);
    }
    expect(() => deviceAuthSigningBytes({ ...auth, challenge: new Uint8Array(31) })).toThrow(RangeError);
  });

  it('chains frames and keeps them apart from authentication messages', () => {
    const base = frameSigningBytes(frame);
    for (const change of [
      { sequence: 4 },
      { sessionNonce: new Uint8Array(32).fill(7) },
      { previousFrameSha256: new Uint8Array(32) },
      { frameSha256: new Uint8Array(32).fill(4) },
      { capturedAtMs: 5001 },
    ]) {
      expect(frameSigningBytes({ ...frame, ...change })).not.toEqual(base);
    }
    const domain = (bytes: Uint8Array) => new TextDecoder().decode(bytes.subarray(4, 4 + 17));
    expect(domain(base)).toBe('irisgate/frame/v1');
    expect(domain(deviceAuthSigningBytes(auth))).not.toBe(domain(base));
    expect(() => frameSigningBytes({ ...frame, frameSha256: new Uint8Array(31) })).toThrow(RangeError);
  });
});

describe('CanonicalWriter growth', () => {
  it('writes messages far larger than its first buffer, byte for byte', () => {
    const big = Uint8Array.from({ length: 10_000 }, (_, i) => i % 251);
    const bytes = canonicalMessage('d')
      .bytes(big)
      .u64(2 ** 53 - 1)
      .bytes(big.subarray(0, 300))
      .finish();
    expect(bytes.length).toBe(4 + 1 + 4 + 10_000 + 8 + 4 + 300);
    expect(bytes.subarray(9, 10_009)).toEqual(big);
    expect(Buffer.from(bytes.subarray(10_009, 10_017)).toString('hex')).toBe('001fffffffffffff');
    expect(bytes.subarray(10_021)).toEqual(big.subarray(0, 300));
    // Growth inside fixed-size writes too (each kind crossing the first buffer's end).
    const writer = new CanonicalWriter();
    for (let i = 0; i < 100; i++)
      writer
        .u8(i)
        .u32(i)
        .u64(i)
        .f64(i + 0.5);
    const out = new DataView(writer.finish().buffer);
    expect(out.byteLength).toBe(100 * 21);
    for (let i = 0; i < 100; i++) {
      expect([out.getUint8(21 * i), out.getUint32(21 * i + 1), out.getUint32(21 * i + 9)]).toEqual([i, i, i]);
      expect(out.getFloat64(21 * i + 13)).toBe(i + 0.5);
    }
  });
});
