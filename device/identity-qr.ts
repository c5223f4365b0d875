/**
 * The QR code a user's wallet shows so the device reads their Semaphore identity commitment:
 * `irisgate:commitment:v1:<decimal commitment>` (the payload's format is protocol/identity-qr-payload.ts,
 * re-exported here). The device decodes it from a camera frame (jsqr); the renderer (qrcode's module
 * matrix, drawn here) makes the frames that tests and the demo show to the camera.
 */
import jsQR from 'jsqr';
import QRCode from 'qrcode';
import { boxBlur } from '../iris/segmentation/image-ops.ts';
import type { GreyImage } from '../iris/types.ts';
import { parseIdentityQrPayload } from '../protocol/identity-qr-payload.ts';

export {
  IDENTITY_QR_PREFIX,
  identityQrPayload,
  parseIdentityQrPayload,
} from '../protocol/identity-qr-payload.ts';

/** White modules around the code; the QR standard asks for 4. */
const QUIET_ZONE_MODULES = 4;

/** The payload as a QR code (error correction M), centred on a white frame with the largest whole modules. */
export function renderIdentityQr(
  payload: string,
  { width, height }: { width: number; height: number } = { width: 640, height: 480 },
): GreyImage {
  const { modules } = QRCode.create(payload, { errorCorrectionLevel: 'M' });
  const moduleSize = Math.floor(Math.min(width, height) / (modules.size + 2 * QUIET_ZONE_MODULES));
  if (moduleSize < 1) throw new RangeError(`a ${width}x${height} frame is too small for this QR code`);
  const left = Math.floor((width - modules.size * moduleSize) / 2);
  const top = Math.floor((height - modules.size * moduleSize) / 2);
  const data = new Uint8Array(width * height).fill(255);
  for (let row = 0; row < modules.size; row++) {
    for (let col = 0; col < modules.size; col++) {
      if (!modules.get(row, col)) continue;
      for (let y = 0; y < moduleSize; y++) {
        const start = (top + row * moduleSize + y) * width + left + col * moduleSize;
        data.fill(0, start, start + moduleSize);
      }
    }
  }
  return { width, height, data };
}

/**
 * The commitment in the frame's identity QR code; undefined when the frame shows no QR code, and
 * invalid_identity_qr when it shows one that is not an identity commitment. A 3 x 3 mean first takes the
 * edge off sensor noise, which jsqr's binariser would otherwise turn into speckle in flat areas.
 */
export function readIdentityQr(image: GreyImage): bigint | undefined {
  const code = jsQR(smoothedRgba(image), image.width, image.height, { inversionAttempts: 'dontInvert' });
  return code ? parseIdentityQrPayload(code.data) : undefined;
}

/** The 3 x 3 mean of a grey image (edges repeated), as the RGBA pixels jsqr takes. */
function smoothedRgba({ width, height, data }: GreyImage): Uint8ClampedArray {
  const mean = boxBlur({ width, height, data: Float32Array.from(data) }, 1).data;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < mean.length; p++) {
    rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = mean[p] as number;
    rgba[4 * p + 3] = 255;
  }
  return rgba;
}
