/**
 * The identity QR code: its payload, strictly parsed, and a rendered code read back from a frame, also after
 * the blur and noise a camera adds.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  IDENTITY_QR_PREFIX,
  identityQrPayload,
  parseIdentityQrPayload,
  readIdentityQr,
  renderIdentityQr,
} from '../../device/identity-qr.ts';
import { readGreyImage } from '../../iris/image-input.ts';
import { seededRandom } from '../../iris/seeded-random.ts';
import type { GreyImage } from '../../iris/types.ts';
import { SNARK_SCALAR_FIELD } from '../../protocol/signup-envelope.ts';
import { OPEN_IRIS_SAMPLE_EYE } from '../support/shared-data.ts';

const COMMITMENT = SNARK_SCALAR_FIELD - 123_456_789n; // 77 digits, the longest payload
const invalidQr = expect.objectContaining({ code: 'invalid_identity_qr' });

describe('identity QR payload', () => {
  it('round-trips commitments from 1 to the field order - 1', () => {
    for (const commitment of [1n, 42n, COMMITMENT, SNARK_SCALAR_FIELD - 1n]) {
      const payload = identityQrPayload(commitment);
      expect(payload).toBe(`irisgate:commitment:v1:${commitment}`);
      expect(parseIdentityQrPayload(payload)).toBe(commitment);
    }
  });

  it('refuses to make a payload for 0 or a value outside the field', () => {
    for (const commitment of [0n, -1n, SNARK_SCALAR_FIELD]) {
      expect(() => identityQrPayload(commitment)).toThrowError(invalidQr);
    }
  });

  it('refuses every other text', () => {
    const refused = [
      '',
      '12345',
      'irisgate:commitment:v2:12345',
      'IRISGATE:commitment:v1:12345',
      'irisgate:commitment:12345',
      ' irisgate:commitment:v1:12345',
      `${IDENTITY_QR_PREFIX}`,
      `${IDENTITY_QR_PREFIX}0`,
      `${IDENTITY_QR_PREFIX}00`,
      `${IDENTITY_QR_PREFIX}012345`,
      `${IDENTITY_QR_PREFIX}${SNARK_SCALAR_FIELD}`,
      `${IDENTITY_QR_PREFIX}${SNARK_SCALAR_FIELD * 10n}`,
      `${IDENTITY_QR_PREFIX}12a45`,
      `${IDENTITY_QR_PREFIX}0x1f`,
      `${IDENTITY_QR_PREFIX}-12345`,
      `${IDENTITY_QR_PREFIX}+12345`,
      `${IDENTITY_QR_PREFIX}1e5`,
      `${IDENTITY_QR_PREFIX}12345 `,
      `${IDENTITY_QR_PREFIX}12345\n`,
      `${IDENTITY_QR_PREFIX}１２３`, // full-width digits
    ];
    for (const text of refused)
      expect(() => parseIdentityQrPayload(text), JSON.stringify(text)).toThrowError(invalidQr);
  });
});

/** A camera's view of a screen: lower contrast (40..190), blur, Gaussian sensor noise (sigma 8). */
async function asSeenByCamera(image: GreyImage, seed: number): Promise<GreyImage> {
  const { width, height } = image;
  const blurred = await sharp(Buffer.from(image.data), { raw: { width, height, channels: 1 } })
    .blur(1.5)
    .extractChannel(0)
    .raw()
    .toBuffer();
  const random = seededRandom(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const seen = Uint8ClampedArray.from(blurred, (value) => 40 + (value * 150) / 255 + 8 * gaussian());
  return { width, height, data: new Uint8Array(seen.buffer) };
}

describe('identity QR image', () => {
  it('renders a centred code on a white 640 x 480 frame that reads back', () => {
    const image = renderIdentityQr(identityQrPayload(COMMITMENT));
    expect([image.width, image.height, image.data.length]).toEqual([640, 480, 640 * 480]);
    expect(new Set(image.data)).toEqual(new Set([0, 255]));
    // A white border of at least the quiet zone: the first and last 40 rows and columns are white.
    for (let y = 0; y < 480; y++) {
      for (const x of [0, 39, 600, 639]) expect(image.data[y * 640 + x]).toBe(255);
    }
    expect(image.data.subarray(0, 40 * 640).every((value) => value === 255)).toBe(true);
    expect(readIdentityQr(image)).toBe(COMMITMENT);
    expect(readIdentityQr(renderIdentityQr(identityQrPayload(7n), { width: 320, height: 240 }))).toBe(7n);
    expect(() => renderIdentityQr(identityQrPayload(7n), { width: 32, height: 32 })).toThrow(RangeError);
  });

  it('still reads after blur, lower contrast and noise', async () => {
    for (const [seed, commitment] of [1n, COMMITMENT, SNARK_SCALAR_FIELD - 1n].entries()) {
      const seen = await asSeenByCamera(renderIdentityQr(identityQrPayload(commitment)), seed + 1);
      expect(readIdentityQr(seen)).toBe(commitment);
    }
  });

  it('gives undefined for a frame without a QR code', async () => {
    const white = { width: 640, height: 480, data: new Uint8Array(640 * 480).fill(255) };
    const random = seededRandom(7);
    const noise = {
      width: 640,
      height: 480,
      data: Uint8Array.from(white.data, () => Math.floor(random() * 256)),
    };
    expect(readIdentityQr(white)).toBeUndefined();
    expect(readIdentityQr(noise)).toBeUndefined();
    expect(readIdentityQr(await readGreyImage(OPEN_IRIS_SAMPLE_EYE))).toBeUndefined();
  });

  it('throws invalid_identity_qr for a QR code that is not an identity commitment', () => {
    for (const payload of [
      'https://example.com/',
      `${IDENTITY_QR_PREFIX}0`,
      'irisgate:commitment:v2:12345',
    ]) {
      expect(() => readIdentityQr(renderIdentityQr(payload))).toThrowError(invalidQr);
    }
  });
});
