/**
 * TPM 2.0 attestation evidence, parsed and verified in pure TypeScript (no tpm2-tools), so the backend can
 * check what a device's TPM signed: quotes over PCRs (what software runs) and key certifications (that a
 * signing key lives inside the TPM). Structures follow TPM 2.0 Library Part 2; all integers are big-endian.
 *
 * Parsers are strict: truncation, a wrong magic or trailing bytes are `malformed_attestation`; attestation
 * types other than quote and certify are `wrong_attestation_type`.
 * Only ECC P-256 keys with ECDSA over SHA-256 are supported, as on the device.
 */
import { createHash } from 'node:crypto';
import { concatBytes, equalBytes, toHex } from './bytes.ts';
import { IrisgateError } from './errors.ts';
import { normaliseLowS, verifySignature } from './signature.ts';

const TPM_GENERATED_VALUE = 0xff544347;
const TPM_ST_ATTEST_CERTIFY = 0x8017;
const TPM_ST_ATTEST_QUOTE = 0x8018;
const TPM_ALG_ECC = 0x0023;
const TPM_ALG_SHA256 = 0x000b;
const TPM_ALG_ECDSA = 0x0018;
const TPM_ALG_ECDAA = 0x001a;
export const TPM_ALG_NULL = 0x0010;
const TPM_ECC_NIST_P256 = 0x0003;
const P256_COORDINATE_BYTES = 32;
const SHA256_BYTES = 32;

/** TPMA_OBJECT bits that together mean "generated inside this TPM and can never leave it". */
export const TPMA_OBJECT = {
  fixedTPM: 1 << 1,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
} as const;

const RESIDENT_KEY_ATTRIBUTES =
  TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin;

export interface TpmClockInfo {
  /** Milliseconds the TPM has been powered, persisted across restarts. */
  clock: bigint;
  resetCount: number;
  restartCount: number;
  safe: boolean;
}

export interface PcrSelection {
  /** TPM_ALG_ID of the bank (0x000b = SHA-256). */
  hashAlg: number;
  /** Selected PCR indices, ascending. */
  pcrs: number[];
}

interface AttestCommon {
  qualifiedSigner: Uint8Array;
  extraData: Uint8Array;
  clockInfo: TpmClockInfo;
  firmwareVersion: bigint;
}

export interface QuoteAttest extends AttestCommon {
  type: 'quote';
  pcrSelections: PcrSelection[];
  pcrDigest: Uint8Array;
}

export interface CertifyAttest extends AttestCommon {
  type: 'certify';
  /** TPM name of the certified object: nameAlg || H(TPMT_PUBLIC). */
  name: Uint8Array;
  qualifiedName: Uint8Array;
}

export type TpmsAttest = QuoteAttest | CertifyAttest;

export interface EccPublicArea {
  /** The TPMT_PUBLIC bytes themselves (what the object's name hashes). */
  tpmtPublic: Uint8Array;
  type: number;
  nameAlg: number;
  objectAttributes: number;
  authPolicy: Uint8Array;
  curveId: number;
  /** 65-byte uncompressed point 0x04||x||y. */
  publicKey: Uint8Array;
}

function malformed(message: string): IrisgateError {
  return new IrisgateError('malformed_attestation', message);
}

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}

/** Reads TPM-marshalled fields in order; every read names its field so truncation errors say where. */
class TpmReader {
  private offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly structure: string,
  ) {}

  take(length: number, field: string): Uint8Array {
    const left = this.bytes.length - this.offset;
    if (length > left) {
      throw malformed(
        `${this.structure} is truncated: ${field} at offset ${this.offset} needs ${length} bytes, ${left} left`,
      );
    }
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  u8(field: string): number {
    return this.take(1, field)[0] as number;
  }

  u16(field: string): number {
    const b = this.take(2, field);
    return ((b[0] as number) << 8) | (b[1] as number);
  }

  u32(field: string): number {
    const b = this.take(4, field);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }

  u64(field: string): bigint {
    const b = this.take(8, field);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
  }

  /** A TPM2B_*: a 16-bit size followed by that many bytes. */
  sized(field: string): Uint8Array {
    return Uint8Array.from(this.take(this.u16(`${field} size`), field));
  }

  end(): void {
    if (this.offset !== this.bytes.length) {
      throw malformed(`${this.structure} has ${this.bytes.length - this.offset} trailing bytes`);
    }
  }
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** Parses a TPMS_ATTEST of type quote or certify (the bytes the TPM signs). */
export function parseTpmsAttest(bytes: Uint8Array): TpmsAttest {
  const reader = new TpmReader(bytes, 'TPMS_ATTEST');
  const magic = reader.u32('magic');
  if (magic !== TPM_GENERATED_VALUE) {
    throw malformed(`TPMS_ATTEST magic is 0x${magic.toString(16)}, not TPM_GENERATED (0xff544347)`);
  }
  const type = reader.u16('type');
  if (type !== TPM_ST_ATTEST_QUOTE && type !== TPM_ST_ATTEST_CERTIFY) {
    throw new IrisgateError(
      'wrong_attestation_type',
      `TPMS_ATTEST type ${hex16(type)} is neither a quote (0x8018) nor a certification (0x8017)`,
    );
  }
  const common: AttestCommon = {
    qualifiedSigner: reader.sized('qualifiedSigner'),
    extraData: reader.sized('extraData'),
    clockInfo: {
      clock: reader.u64('clockInfo.clock'),
      resetCount: reader.u32('clockInfo.resetCount'),
      restartCount: reader.u32('clockInfo.restartCount'),
      safe: readBoolean(reader, 'clockInfo.safe'),
    },
    firmwareVersion: reader.u64('firmwareVersion'),
  };
  const attest: TpmsAttest =
    type === TPM_ST_ATTEST_QUOTE
      ? {
          ...common,
          type: 'quote',
          pcrSelections: readPcrSelections(reader),
          pcrDigest: reader.sized('pcrDigest'),
        }
      : {
          ...common,
          type: 'certify',
          name: reader.sized('name'),
          qualifiedName: reader.sized('qualifiedName'),
        };
  reader.end();
  return attest;
}

function readBoolean(reader: TpmReader, field: string): boolean {
  const value = reader.u8(field);
  if (value > 1) throw malformed(`${field} is ${value}, not a TPMI_YES_NO`);
  return value === 1;
}

/** TPML_PCR_SELECTION: a count, then per bank its hash and a bitmap where bit i of byte j is PCR 8j+i. */
function readPcrSelections(reader: TpmReader): PcrSelection[] {
  const count = reader.u32('pcrSelect.count');
  // A TPM has at most a handful of banks (TPM2_NUM_PCR_BANKS is 16); refuse absurd counts before looping.
  if (count > 16) throw malformed(`TPML_PCR_SELECTION claims ${count} banks`);
  const selections: PcrSelection[] = [];
  for (let i = 0; i < count; i++) {
    const hashAlg = reader.u16(`pcrSelections[${i}].hash`);
    const bitmap = reader.take(
      reader.u8(`pcrSelections[${i}].sizeofSelect`),
      `pcrSelections[${i}].pcrSelect`,
    );
    const pcrs: number[] = [];
    bitmap.forEach((byte, j) => {
      for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) pcrs.push(j * 8 + bit);
    });
    selections.push({ hashAlg, pcrs });
  }
  return selections;
}

/**
 * Parses a TPMT_SIGNATURE made with ECDSA over SHA-256 into 64 bytes r||s (each left-padded to 32 bytes),
 * the form verifySignature takes. The TPM does not normalise s: pass the result through normaliseLowS.
 */
export function parseTpmtSignature(bytes: Uint8Array): Uint8Array {
  const reader = new TpmReader(bytes, 'TPMT_SIGNATURE');
  const sigAlg = reader.u16('sigAlg');
  const hashAlg = reader.u16('hash');
  if (sigAlg !== TPM_ALG_ECDSA || hashAlg !== TPM_ALG_SHA256) {
    throw new IrisgateError(
      'unsupported_algorithm',
      `TPM signature is sigAlg ${hex16(sigAlg)} hash ${hex16(hashAlg)}; only ECDSA (0x0018) with SHA-256 (0x000b) is supported`,
    );
  }
  const r = leftPad(reader.sized('signatureR'), P256_COORDINATE_BYTES, 'signatureR');
  const s = leftPad(reader.sized('signatureS'), P256_COORDINATE_BYTES, 'signatureS');
  reader.end();
  return concatBytes(r, s);
}

function leftPad(value: Uint8Array, length: number, field: string): Uint8Array {
  if (value.length > length) throw malformed(`${field} is ${value.length} bytes, more than ${length}`);
  const out = new Uint8Array(length);
  out.set(value, length - value.length);
  return out;
}

/**
 * Parses the public area of an ECC key, given as TPM2B_PUBLIC (what tpm2-tools writes by default) or as a
 * bare TPMT_PUBLIC. A buffer whose first two bytes equal its remaining length is taken as TPM2B_PUBLIC: a
 * TPMT_PUBLIC starts with its type (0x0023 = 35 for ECC), far below the size of a P-256 public area
 * (at least 86 bytes).
 */
export function parseEccPublic(bytes: Uint8Array): EccPublicArea {
  const isSized =
    bytes.length >= 2 && ((bytes[0] as number) << 8) + (bytes[1] as number) === bytes.length - 2;
  const tpmtPublic = Uint8Array.from(isSized ? bytes.subarray(2) : bytes);
  const reader = new TpmReader(tpmtPublic, 'TPMT_PUBLIC');
  const type = reader.u16('type');
  if (type !== TPM_ALG_ECC) {
    throw new IrisgateError('unsupported_algorithm', `TPM key type ${hex16(type)} is not ECC (0x0023)`);
  }
  const nameAlg = reader.u16('nameAlg');
  const objectAttributes = reader.u32('objectAttributes');
  const authPolicy = reader.sized('authPolicy');
  skipEccParameters(reader);
  const curveId = reader.u16('parameters.curveID');
  skipAlgorithmWithDetails(reader, 'parameters.kdf', 1);
  const x = reader.sized('unique.x');
  const y = reader.sized('unique.y');
  reader.end();
  if (curveId !== TPM_ECC_NIST_P256) {
    throw new IrisgateError(
      'unsupported_algorithm',
      `TPM key curve ${hex16(curveId)} is not NIST P-256 (0x0003)`,
    );
  }
  const publicKey = concatBytes(
    Uint8Array.of(0x04),
    leftPad(x, P256_COORDINATE_BYTES, 'unique.x'),
    leftPad(y, P256_COORDINATE_BYTES, 'unique.y'),
  );
  return { tpmtPublic, type, nameAlg, objectAttributes, authPolicy, curveId, publicKey };
}

/** The TPMS_ECC_PARMS fields before curveID: TPMT_SYM_DEF_OBJECT, then TPMT_ECC_SCHEME. */
function skipEccParameters(reader: TpmReader): void {
  // Symmetric definition: keyBits and mode follow any algorithm but NULL.
  skipAlgorithmWithDetails(reader, 'parameters.symmetric', 2);
  const scheme = reader.u16('parameters.scheme');
  if (scheme === TPM_ALG_NULL) return;
  reader.u16('parameters.scheme.hashAlg');
  // ECDAA is the one ECC scheme whose details also carry a count.
  if (scheme === TPM_ALG_ECDAA) reader.u16('parameters.scheme.count');
}

function skipAlgorithmWithDetails(reader: TpmReader, field: string, detailFields: number): void {
  if (reader.u16(field) === TPM_ALG_NULL) return;
  for (let i = 0; i < detailFields; i++) reader.u16(`${field} details`);
}

/** The TPM name of a public area whose nameAlg is SHA-256: 0x000b || SHA-256(TPMT_PUBLIC). */
export function tpmObjectName(publicArea: EccPublicArea): Uint8Array {
  if (publicArea.nameAlg !== TPM_ALG_SHA256) {
    throw new IrisgateError(
      'unsupported_algorithm',
      `TPM key nameAlg ${hex16(publicArea.nameAlg)} is not SHA-256 (0x000b)`,
    );
  }
  return concatBytes(Uint8Array.of(0x00, 0x0b), sha256(publicArea.tpmtPublic));
}

/**
 * The measurement of a set of files from their own SHA-256 digests: SHA-256 over the digests concatenated
 * in the order given. Device and verifier use the same order (software first, then model), so the
 * verifier can recompute it from the allow-listed file hashes alone.
 */
export function measurementOfFileDigests(fileDigests: Uint8Array[]): Uint8Array {
  for (const digest of fileDigests) assertSha256Digest(digest, 'file digest');
  return sha256(...fileDigests);
}

/**
 * The value of a SHA-256 PCR after extending it with each digest in turn, starting from `from`
 * (default: 32 zero bytes, its value after a reset).
 */
export function expectedPcr16(
  measurementDigests: Uint8Array[],
  from: Uint8Array = new Uint8Array(SHA256_BYTES),
): Uint8Array {
  assertSha256Digest(from, 'starting PCR value');
  let pcr = from;
  for (const digest of measurementDigests) {
    assertSha256Digest(digest, 'measurement digest');
    pcr = sha256(pcr, digest);
  }
  return pcr;
}

function assertSha256Digest(digest: Uint8Array, what: string): void {
  if (digest.length !== SHA256_BYTES) {
    throw new IrisgateError('invalid_argument', `${what} is ${digest.length} bytes, a SHA-256 digest is 32`);
  }
}

interface AttestationEvidence {
  /** The TPMS_ATTEST bytes the TPM signed. */
  attest: Uint8Array;
  /** The attestation key's ECDSA signature as 64 bytes r||s (high or low S). */
  signature: Uint8Array;
  /** The attestation key's 65-byte uncompressed P-256 point. */
  akPublicKey: Uint8Array;
  /** The fresh challenge the TPM had to include as extraData. */
  nonce: Uint8Array;
}

/** Parses, then checks signature, nonce and type, in that order, so each failure gets its own code. */
async function verifyAttestation(evidence: AttestationEvidence): Promise<TpmsAttest> {
  const attest = parseTpmsAttest(evidence.attest);
  await verifySignature(
    'ecdsa-p256-sha256',
    evidence.akPublicKey,
    evidence.attest,
    normaliseLowS('ecdsa-p256-sha256', evidence.signature),
  );
  if (!equalBytes(attest.extraData, evidence.nonce)) {
    throw new IrisgateError(
      'nonce_mismatch',
      `attestation carries nonce ${toHex(attest.extraData)}, expected ${toHex(evidence.nonce)}`,
    );
  }
  return attest;
}

function wrongType(actual: string, expected: string): IrisgateError {
  return new IrisgateError('wrong_attestation_type', `attestation is a ${actual}, expected a ${expected}`);
}

export interface ExpectedPcrs {
  bank: 'sha256';
  values: Map<number, Uint8Array>;
}

/**
 * Verifies a TPM quote: the AK signed it, it is a quote, it carries the nonce, it selects exactly the
 * expected PCRs of the SHA-256 bank, and its PCR digest is SHA-256 over the expected values in selection
 * order. Returns the parsed quote (clock, firmware version, selection).
 */
export async function verifyQuote(
  evidence: AttestationEvidence & { expectedPcrs: ExpectedPcrs },
): Promise<QuoteAttest> {
  const attest = await verifyAttestation(evidence);
  if (attest.type !== 'quote') throw wrongType('key certification', 'quote');
  const quoted = attest.pcrSelections.flatMap(({ hashAlg, pcrs }) => pcrs.map((pcr) => ({ hashAlg, pcr })));
  const { values } = evidence.expectedPcrs;
  const describe = (pcrs: { hashAlg: number; pcr: number }[]) =>
    pcrs
      .map(({ hashAlg, pcr }) => `${hashAlg === TPM_ALG_SHA256 ? 'sha256' : hex16(hashAlg)}:${pcr}`)
      .join(',');
  const selectsExpected =
    quoted.length === values.size &&
    quoted.every(({ hashAlg, pcr }) => hashAlg === TPM_ALG_SHA256 && values.has(pcr)) &&
    new Set(quoted.map(({ pcr }) => pcr)).size === quoted.length;
  if (!selectsExpected) {
    const expected = [...values.keys()].map((pcr) => ({ hashAlg: TPM_ALG_SHA256, pcr }));
    throw new IrisgateError(
      'pcr_mismatch',
      `quote selects PCRs [${describe(quoted)}], expected [${describe(expected)}]`,
    );
  }
  const expectedDigest = sha256(...quoted.map(({ pcr }) => values.get(pcr) as Uint8Array));
  if (!equalBytes(attest.pcrDigest, expectedDigest)) {
    throw new IrisgateError(
      'pcr_mismatch',
      `quoted PCR digest ${toHex(attest.pcrDigest)} differs from the expected ${toHex(expectedDigest)}`,
    );
  }
  return attest;
}

/**
 * Verifies that a key lives in the TPM: the AK signed a certification of it carrying the nonce, the
 * certified name is the name of `certifiedPublic` (TPM2B_PUBLIC or TPMT_PUBLIC), that public area holds
 * `claimedPublicKey` on P-256, and its attributes make it non-duplicable and generated inside the TPM.
 */
export async function verifyKeyCertification(
  evidence: AttestationEvidence & { certifiedPublic: Uint8Array; claimedPublicKey: Uint8Array },
): Promise<CertifyAttest & { certifiedKey: EccPublicArea }> {
  const attest = await verifyAttestation(evidence);
  if (attest.type !== 'certify') throw wrongType('quote', 'key certification');
  const certifiedKey = parseEccPublic(evidence.certifiedPublic);
  const name = tpmObjectName(certifiedKey);
  if (!equalBytes(attest.name, name)) {
    throw new IrisgateError(
      'key_not_in_tpm',
      `the TPM certified object ${toHex(attest.name)}, but the public area given has name ${toHex(name)}`,
    );
  }
  if (!equalBytes(certifiedKey.publicKey, evidence.claimedPublicKey)) {
    throw new IrisgateError('key_not_in_tpm', 'the certified TPM key is not the claimed public key');
  }
  if ((certifiedKey.objectAttributes & RESIDENT_KEY_ATTRIBUTES) !== RESIDENT_KEY_ATTRIBUTES) {
    throw new IrisgateError(
      'key_not_in_tpm',
      `the certified key's attributes 0x${certifiedKey.objectAttributes.toString(16)} lack fixedTPM, fixedParent or sensitiveDataOrigin`,
    );
  }
  return { ...attest, certifiedKey };
}
