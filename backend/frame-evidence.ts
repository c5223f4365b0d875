/**
 * Frame evidence: the pixels of a few captured frames, sent beside a signed signup so the backend can tie
 * the frame hashes the device signed to real pixels.
 *
 * On the wire it is an unsigned sidecar of the signup request, next to the envelope and its signature:
 *
 *   { "envelope": {...}, "signature": "<128 hex>",
 *     "evidence": { "frames": [{ "sequence": <u32>, "png": "<base64 of a PNG>" }, ...] } }
 *
 * Each PNG must decode (sharp, at most MAX_EVIDENCE_PIXELS) to an 8-bit grey image, nothing converted:
 * colour, alpha, palette, 16-bit or a colour profile is malformed evidence. Its framePixelsSha256
 * (protocol/device-messages.ts) must equal the sha256 the device signed for the frame with that sequence in
 * envelope.liveness.frames; the sequences must be distinct and name frames of the envelope, and the policy
 * sets how many frames there must be (SignupPolicy.minEvidenceFrames).
 *
 * The evidence is not signed: a refusal here is about this request, not about the signup, so the gate
 * never stores it as the signup's decision (a resend with the right evidence is decided normally).
 */

import sharp from 'sharp';
import { equalBytes, toHex } from '../protocol/bytes.ts';
import { framePixelsSha256 } from '../protocol/device-messages.ts';
import { IrisgateError } from '../protocol/errors.ts';
import type { SignupEnvelope } from '../protocol/signup-envelope.ts';

/** The most frames a signup may carry as evidence. */
export const MAX_EVIDENCE_FRAMES = 4;
/**
 * The largest PNG accepted for a frame: a 640 x 480 8-bit grey frame of pure noise compresses to ~308 KB
 * with sharp's defaults and ~325 KB at compression level 1, so 342 KiB leaves room for any encoder.
 */
const MAX_EVIDENCE_PNG_BYTES = 342 * 1024;
/** MAX_EVIDENCE_PNG_BYTES in base64 (466,944 characters). */
export const MAX_EVIDENCE_PNG_BASE64 = 4 * Math.ceil(MAX_EVIDENCE_PNG_BYTES / 3);
/** Decoding refuses images with more pixels than this before allocating them. */
const MAX_EVIDENCE_PIXELS = 4096 * 4096;

/** Canonical, padded base64 (RFC 4648 section 4). */
export const BASE64_PATTERN = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';
const BASE64 = new RegExp(BASE64_PATTERN);
const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** IHDR colour type 0: greyscale without alpha. */
const PNG_GREYSCALE = 0;

/** An evidence frame decoded and hashed. */
export interface HashedEvidenceFrame {
  sequence: number;
  width: number;
  height: number;
  /** framePixelsSha256 of its pixels. */
  sha256: Uint8Array;
}

function malformed(why: string): IrisgateError {
  return new IrisgateError('malformed_evidence', why);
}

/**
 * Splits a signup request body into its signed part (`{ envelope, signature }` and whatever else was sent,
 * for parseSignedSignup, which refuses unknown fields) and the evidence sidecar (undefined when absent).
 */
export function splitSignupEvidence(body: unknown): { signed: unknown; evidence: unknown } {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !Object.hasOwn(body, 'evidence')) {
    return { signed: body, evidence: undefined };
  }
  const { evidence, ...signed } = body as Record<string, unknown>;
  return { signed, evidence };
}

interface EvidenceFrameJson {
  sequence: number;
  png: Uint8Array;
}

function parseEvidence(json: unknown): EvidenceFrameJson[] {
  if (json === undefined) return [];
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject(json) || Object.keys(json).some((key) => key !== 'frames') || !Array.isArray(json.frames)) {
    throw malformed('evidence must be { frames: [...] }');
  }
  if (json.frames.length > MAX_EVIDENCE_FRAMES) {
    throw malformed(`${json.frames.length} evidence frames, at most ${MAX_EVIDENCE_FRAMES}`);
  }
  return json.frames.map((frame: unknown, i) => {
    const path = `evidence.frames[${i}]`;
    if (!isObject(frame) || Object.keys(frame).some((key) => key !== 'sequence' && key !== 'png')) {
      throw malformed(`${path} must be { sequence, png }`);
    }
    const { sequence, png } = frame;
    if (
      typeof sequence !== 'number' ||
      !Number.isInteger(sequence) ||
      sequence < 0 ||
      sequence > 0xffff_ffff
    ) {
      throw malformed(`${path}.sequence must be an integer in [0, 2^32)`);
    }
    if (typeof png !== 'string' || png.length > MAX_EVIDENCE_PNG_BASE64 || !BASE64.test(png)) {
      throw malformed(`${path}.png must be base64, at most ${MAX_EVIDENCE_PNG_BASE64} characters`);
    }
    return { sequence, png: Buffer.from(png, 'base64') };
  });
}

/**
 * The header of an 8-bit greyscale PNG (signature, then IHDR: width, height, bit depth, colour type), checked
 * before anything decodes it: sharp would turn 1-, 2-, 4- or 16-bit grey into 8 bits without saying so.
 */
function checkGreyPngHeader(png: Uint8Array, path: string): void {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const isPng = png.length >= 33 && PNG_SIGNATURE.every((byte, i) => png[i] === byte);
  if (!isPng || view.getUint32(8) !== 13 || Buffer.from(png.subarray(12, 16)).toString('latin1') !== 'IHDR') {
    throw malformed(`${path} is not a PNG`);
  }
  const bitDepth = png[24];
  const colourType = png[25];
  if (colourType !== PNG_GREYSCALE || bitDepth !== 8) {
    throw malformed(
      `${path} is a PNG of colour type ${colourType}, bit depth ${bitDepth}: frames are 8-bit grey`,
    );
  }
}

async function decodeGreyPng(
  png: Uint8Array,
  path: string,
): Promise<{ width: number; height: number; data: Uint8Array }> {
  checkGreyPngHeader(png, path);
  try {
    const image = sharp(png, { limitInputPixels: MAX_EVIDENCE_PIXELS, failOn: 'error' });
    const meta = await image.metadata();
    if (meta.format !== 'png' || meta.channels !== 1 || meta.depth !== 'uchar' || meta.hasAlpha) {
      throw malformed(`${path} does not decode to one 8-bit channel`);
    }
    if (meta.hasProfile) throw malformed(`${path} carries a colour profile`);
    // sharp writes raw output in sRGB unless told otherwise; from a one-channel input 'b-w' is the identity.
    const { data, info } = await image.toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 || data.length !== info.width * info.height) {
      throw malformed(`${path} does not decode to one 8-bit channel`);
    }
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
  } catch (cause) {
    if (cause instanceof IrisgateError) throw cause;
    throw new IrisgateError('malformed_evidence', `${path} does not decode: ${(cause as Error).message}`, {
      cause,
    });
  }
}

async function hashEvidence(json: unknown): Promise<HashedEvidenceFrame[]> {
  const frames = parseEvidence(json);
  return Promise.all(
    frames.map(async ({ sequence, png }, i) => {
      const { width, height, data } = await decodeGreyPng(png, `evidence.frames[${i}].png`);
      return { sequence, width, height, sha256: framePixelsSha256({ width, height, data }) };
    }),
  );
}

/**
 * Parses the evidence sidecar (`undefined`: none was sent) and decodes and hashes its frames, all at once
 * and off the event loop (sharp decodes on its own threads). Rejects with malformed_evidence. The promise
 * is marked handled, so a caller that refuses the signup for another reason leaves no unhandled rejection.
 */
export function hashFrameEvidence(json: unknown): Promise<HashedEvidenceFrame[]> {
  const hashed = hashEvidence(json);
  hashed.catch(() => {});
  return hashed;
}

/**
 * Checks decoded evidence against the frames the envelope signed: each names a distinct frame of the
 * envelope (else malformed_evidence) whose signed sha256 its pixels hash to (else frame_evidence_mismatch),
 * and there are at least `minFrames` (else insufficient_liveness_evidence).
 */
export function matchFrameEvidence(
  envelope: SignupEnvelope,
  evidence: readonly HashedEvidenceFrame[],
  minFrames: number,
): void {
  const signed = new Map(envelope.liveness.frames.map((frame) => [frame.sequence, frame.sha256]));
  const seen = new Set<number>();
  for (const frame of evidence) {
    if (seen.has(frame.sequence)) throw malformed(`frame ${frame.sequence} is sent twice as evidence`);
    seen.add(frame.sequence);
    const sha256 = signed.get(frame.sequence);
    if (!sha256) throw malformed(`the signup has no frame ${frame.sequence}`);
    if (!equalBytes(sha256, frame.sha256)) {
      throw new IrisgateError(
        'frame_evidence_mismatch',
        `the ${frame.width} x ${frame.height} pixels sent for frame ${frame.sequence} hash to ${toHex(frame.sha256)}, the device signed ${toHex(sha256)}`,
      );
    }
  }
  if (evidence.length < minFrames) {
    throw new IrisgateError(
      'insufficient_liveness_evidence',
      evidence.length === 0
        ? `no frame evidence: the policy needs the pixels (evidence.frames) of at least ${minFrames} signed frame(s)`
        : `${evidence.length} evidence frame(s), the policy needs at least ${minFrames}`,
    );
  }
}
