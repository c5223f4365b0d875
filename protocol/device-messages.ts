/**
 * The other messages a device's hardware keys sign, each under its own domain (protocol/canonical.ts):
 *
 * Device authentication (like the Orb's): the backend issues a random challenge; the device signs
 *   "irisgate/device-auth/v1" | string audience | string deviceId | bytes challenge (32) | u64 issuedAtMs
 * with its attestation key. The audience (the backend's own name) stops a challenge answered for one
 * backend from being replayed to another.
 *
 * Capture frames: each frame's hash is signed with the attestation key (the hardware key next to the
 * camera: P-256, in the TPM on a board) and chained to the previous one, so frames can be neither
 * reordered, dropped from the middle, nor moved to another session. (Not the iris-code key: on SoftHSM
 * that is secp256k1, whose verification costs ~3 ms each in @noble/secp256k1 against ~0.4 ms for P-256,
 * and a signup carries dozens of frames.)
 *   "irisgate/frame/v1" | string deviceId | bytes sessionNonce (32) | u32 sequence | u64 capturedAtMs
 *   | bytes frameSha256 (32) | bytes previousFrameSha256 (32; zeros for frame 0)
 *
 * A frame's hash (frameSha256 above, `sha256` of each frame in a signup envelope) is framePixelsSha256:
 * SHA-256 of the canonical message
 *   "irisgate/frame-pixels/v1" | u32 width | u32 height | bytes pixels (width * height, 8-bit grey, row-major)
 * over the frame exactly as the camera gave it, so whoever holds the pixels (the backend, from a signup's
 * frame evidence) can check them against the signed chain.
 */
import { createHash } from 'node:crypto';
import { canonicalMessage } from './canonical.ts';

export const DEVICE_AUTH_DOMAIN = 'irisgate/device-auth/v1';
export const FRAME_DOMAIN = 'irisgate/frame/v1';
export const FRAME_PIXELS_DOMAIN = 'irisgate/frame-pixels/v1';
export const CHALLENGE_BYTES = 32;

export interface DeviceAuthChallenge {
  audience: string;
  deviceId: string;
  challenge: Uint8Array;
  issuedAtMs: number;
}

export function deviceAuthSigningBytes({
  audience,
  deviceId,
  challenge,
  issuedAtMs,
}: DeviceAuthChallenge): Uint8Array {
  if (challenge.length !== CHALLENGE_BYTES) throw new RangeError(`a challenge is ${CHALLENGE_BYTES} bytes`);
  return canonicalMessage(DEVICE_AUTH_DOMAIN)
    .string(audience)
    .string(deviceId)
    .bytes(challenge)
    .u64(issuedAtMs)
    .finish();
}

export interface FrameStatement {
  deviceId: string;
  sessionNonce: Uint8Array;
  sequence: number;
  capturedAtMs: number;
  frameSha256: Uint8Array;
  /** The previous frame's SHA-256; all zeros for frame 0. */
  previousFrameSha256: Uint8Array;
}

export function frameSigningBytes(frame: FrameStatement): Uint8Array {
  if (frame.frameSha256.length !== 32 || frame.previousFrameSha256.length !== 32) {
    throw new RangeError('frame hashes are 32-byte SHA-256 digests');
  }
  return canonicalMessage(FRAME_DOMAIN)
    .string(frame.deviceId)
    .bytes(frame.sessionNonce)
    .u32(frame.sequence)
    .u64(frame.capturedAtMs)
    .bytes(frame.frameSha256)
    .bytes(frame.previousFrameSha256)
    .finish();
}

/** An 8-bit grey image, row-major: `data` holds width * height bytes. */
export interface GreyFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * A frame's hash: SHA-256 of "irisgate/frame-pixels/v1" | u32 width | u32 height | bytes pixels. The
 * pixels are hashed where they lie (the header is the canonical message up to them), never copied.
 */
export function framePixelsSha256(image: GreyFrame): Uint8Array {
  const { width, height, data } = image;
  if (data.length !== width * height) {
    throw new RangeError(
      `a ${width} x ${height} grey frame holds ${width * height} bytes, not ${data.length}`,
    );
  }
  const header = canonicalMessage(FRAME_PIXELS_DOMAIN).u32(width).u32(height).u32(data.length).finish();
  return new Uint8Array(createHash('sha256').update(header).update(data).digest());
}
