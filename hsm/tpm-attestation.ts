/**
 * Device side of TPM attestation, through tpm2-tools: measure the software and model files into PCR 16,
 * keep a persistent attestation key (AK), quote PCRs and certify that a tpm2-pkcs11 key lives in the TPM.
 * Tools run with execFile (never a shell) in the environment loadHsmFixture or the device set up
 * (TPM2TOOLS_TCTI, TPM2_PKCS11_STORE, ...); every failing tool throws `tpm_command_failed`.
 * Verification is in protocol/tpm-attestation.ts.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { concatBytes, toHex } from '../protocol/bytes.ts';
import { IrisgateError } from '../protocol/errors.ts';
import {
  measurementOfFileDigests,
  parseEccPublic,
  parseTpmtSignature,
  TPM_ALG_NULL,
} from '../protocol/tpm-attestation.ts';

const execFileAsync = promisify(execFile);

export const DEFAULT_AK_HANDLE = 0x81010010;
/**
 * Persistent handle a key to certify is parked at for one TPM2_Certify. tpm2_certify 5.4 signs a fixed
 * qualifying value (00ff55aa) and cannot carry a nonce, so certification is sent raw with tpm2_send, and
 * a raw command can only name an object that outlives the tool that loaded it: a persistent one.
 */
export const DEFAULT_CERTIFY_SCRATCH_HANDLE = 0x81010011;
const MEASUREMENT_PCR = 16;
const SHA256_PCR_BYTES = 32;

const TPM_ST_SESSIONS = 0x8002;
const TPM_CC_CERTIFY = 0x00000148;
const TPM_RS_PW = 0x40000009;
const COMMAND_HEADER_BYTES = 10;

/** Runs one tpm2-tools program; its stderr becomes the error message when it fails. */
async function tpm2(tool: string, args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(tool, args, { cwd, env: process.env, maxBuffer: 1 << 20 });
    return stdout;
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr?.trim();
    const reason = stderr || (cause instanceof Error ? cause.message : String(cause));
    throw new IrisgateError('tpm_command_failed', `${tool}: ${reason}`, { cause });
  }
}

async function withTempDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'irisgate-tpm-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function handleHex(handle: number): string {
  return `0x${handle.toString(16)}`;
}

export async function sha256File(path: string): Promise<Uint8Array> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return new Uint8Array(hash.digest());
}

/**
 * The measurement of the device software and model files: SHA-256 over each file's SHA-256, in the order
 * given (software first, then model), so it does not depend on where the files are installed.
 */
export async function measureFiles(paths: string[]): Promise<Uint8Array> {
  return measurementOfFileDigests(await Promise.all(paths.map(sha256File)));
}

/** Extends the SHA-256 bank of PCR 16 with a 32-byte digest: PCR16 = SHA-256(PCR16 || digest). */
export async function extendPcr16(digest: Uint8Array): Promise<void> {
  if (digest.length !== SHA256_PCR_BYTES) {
    throw new IrisgateError(
      'invalid_argument',
      `PCR 16 is extended with a 32-byte digest, not ${digest.length}`,
    );
  }
  await tpm2('tpm2_pcrextend', [`${MEASUREMENT_PCR}:sha256=${toHex(digest)}`]);
}

function pcrList(pcrs: number[]): { sorted: number[]; spec: string } {
  const sorted = [...new Set(pcrs)].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.some((pcr) => !Number.isInteger(pcr) || pcr < 0 || pcr > 23)) {
    throw new IrisgateError('invalid_argument', `PCR list [${pcrs.join(',')}] must name PCRs 0-23`);
  }
  return { sorted, spec: `sha256:${sorted.join(',')}` };
}

/** tpm2-tools writes the values of a PCR list back to back, in ascending PCR order. */
function splitPcrValues(sorted: number[], values: Uint8Array): Map<number, Uint8Array> {
  if (values.length !== sorted.length * SHA256_PCR_BYTES) {
    throw new IrisgateError(
      'tpm_command_failed',
      `expected ${sorted.length} SHA-256 PCR values, got ${values.length} bytes`,
    );
  }
  return new Map(
    sorted.map((pcr, i) => [pcr, values.slice(i * SHA256_PCR_BYTES, (i + 1) * SHA256_PCR_BYTES)]),
  );
}

/** Reads SHA-256 PCR values. */
export async function readPcrs(pcrs: number[]): Promise<Map<number, Uint8Array>> {
  const { sorted, spec } = pcrList(pcrs);
  return withTempDir(async (dir) => {
    const out = join(dir, 'pcrs');
    await tpm2('tpm2_pcrread', [spec, '-o', out]);
    return splitPcrValues(sorted, new Uint8Array(await readFile(out)));
  });
}

export interface AttestationKey {
  handle: number;
  /** 65-byte uncompressed P-256 point. */
  publicKey: Uint8Array;
}

/**
 * Returns the persistent ECC P-256 attestation key at `handle`, creating it first if the handle is empty:
 * an EK, then an AK under it (restricted ECDSA/SHA-256 signing key), made persistent. Idempotent.
 */
export async function provisionAttestationKey(handle = DEFAULT_AK_HANDLE): Promise<AttestationKey> {
  return withTempDir(async (dir) => {
    const akPublic = join(dir, 'ak.pub');
    try {
      await tpm2('tpm2_readpublic', ['-c', handleHex(handle), '-o', akPublic]);
    } catch {
      await createPersistentAk(dir, handle, akPublic);
    }
    return { handle, publicKey: parseEccPublic(new Uint8Array(await readFile(akPublic))).publicKey };
  });
}

async function createPersistentAk(dir: string, handle: number, akPublic: string): Promise<void> {
  const ek = join(dir, 'ek.ctx');
  const ak = join(dir, 'ak.ctx');
  await tpm2('tpm2_createek', ['-c', ek, '-G', 'ecc']);
  await tpm2('tpm2_createak', [
    '-C',
    ek,
    '-c',
    ak,
    '-G',
    'ecc',
    '-g',
    'sha256',
    '-s',
    'ecdsa',
    '-u',
    akPublic,
  ]);
  await tpm2('tpm2_evictcontrol', ['-C', 'o', '-c', ak, handleHex(handle)]);
}

export interface Quote {
  /** TPMS_ATTEST bytes the AK signed. */
  attest: Uint8Array;
  /** The AK's ECDSA signature, 64 bytes r||s as the TPM made it (not low-S normalised). */
  signature: Uint8Array;
  /** The quoted SHA-256 PCR values as read alongside the quote. */
  pcrValues: Map<number, Uint8Array>;
}

/** Quotes SHA-256 PCRs (default: PCR 16) with the AK, carrying `nonce` as qualifying data. */
export async function quotePcrs(options: {
  nonce: Uint8Array;
  pcrs?: number[];
  akHandle?: number;
}): Promise<Quote> {
  const { sorted, spec } = pcrList(options.pcrs ?? [MEASUREMENT_PCR]);
  return withTempDir(async (dir) => {
    const files = { attest: join(dir, 'attest'), sig: join(dir, 'sig'), pcrs: join(dir, 'pcrs') };
    await tpm2('tpm2_quote', [
      ...['-c', handleHex(options.akHandle ?? DEFAULT_AK_HANDLE), '-l', spec, '-q', toHex(options.nonce)],
      ...['-g', 'sha256', '-m', files.attest, '-s', files.sig, '-f', 'tss'],
      ...['-o', files.pcrs, '-F', 'values'],
    ]);
    return {
      attest: new Uint8Array(await readFile(files.attest)),
      signature: parseTpmtSignature(new Uint8Array(await readFile(files.sig))),
      pcrValues: splitPcrValues(sorted, new Uint8Array(await readFile(files.pcrs))),
    };
  });
}

export interface KeyCertification {
  /** TPMS_ATTEST (certify) bytes the AK signed. */
  attest: Uint8Array;
  /** The AK's ECDSA signature, 64 bytes r||s as the TPM made it (not low-S normalised). */
  signature: Uint8Array;
  /** TPM2B_PUBLIC of the certified key, whose name the attestation certifies. */
  certifiedPublic: Uint8Array;
}

/**
 * Proves that a tpm2-pkcs11 key lives in this TPM: exports its TPM blobs from the tpm2-pkcs11 store
 * (the private blob is encrypted to the token's primary key and useless outside this TPM), loads them,
 * and has the AK certify the loaded object with `nonce` as qualifying data. Transient objects are flushed
 * by the resource manager when each tool exits; the parked persistent copy is evicted before returning.
 */
export async function certifyPkcs11Key(options: {
  tokenLabel: string;
  keyLabel: string;
  userPin: string;
  nonce: Uint8Array;
  akHandle?: number;
  scratchHandle?: number;
}): Promise<KeyCertification> {
  const akHandle = options.akHandle ?? DEFAULT_AK_HANDLE;
  const scratchHandle = options.scratchHandle ?? DEFAULT_CERTIFY_SCRATCH_HANDLE;
  return withTempDir(async (dir) => {
    const objectAuth = await exportPkcs11Key(dir, options);
    const loaded = join(dir, 'key.ctx');
    // key.tr is the token's persistent primary key (a serialised ESYS_TR), the parent of key.priv.
    await tpm2('tpm2_load', [
      '-C',
      join(dir, 'key.tr'),
      '-u',
      join(dir, 'key.pub'),
      '-r',
      join(dir, 'key.priv'),
      '-c',
      loaded,
    ]);
    await parkAtScratchHandle(loaded, scratchHandle);
    try {
      const command = certifyCommand(scratchHandle, akHandle, objectAuth, options.nonce);
      const certification = await sendRawCommand(dir, 'TPM2_Certify', command);
      return {
        ...parseCertifyResponse(certification),
        certifiedPublic: new Uint8Array(await readFile(join(dir, 'key.pub'))),
      };
    } finally {
      await tpm2('tpm2_evictcontrol', ['-C', 'o', '-c', handleHex(scratchHandle)]);
    }
  });
}

/** Writes key.pub, key.priv and key.tr (its parent) into `dir` and returns the key's authorisation value. */
async function exportPkcs11Key(
  dir: string,
  options: { tokenLabel: string; keyLabel: string; userPin: string },
): Promise<Uint8Array> {
  // tpm2_ptool takes the PIN only as an argument; it is visible to other local users for the call's duration.
  const stdout = await tpm2(
    'tpm2_ptool',
    [
      'export',
      `--label=${options.tokenLabel}`,
      `--key-label=${options.keyLabel}`,
      `--userpin=${options.userPin}`,
      '--format=tpm2',
      '--output-prefix=key',
    ],
    dir,
  );
  const auth = /^object-auth: (\S*)$/m.exec(stdout)?.[1];
  if (auth === undefined) {
    throw new IrisgateError(
      'tpm_command_failed',
      `tpm2_ptool export printed no object-auth: ${stdout.trim()}`,
    );
  }
  // tpm2-pkcs11 uses the printed string itself, not its hex decoding, as the TPM authorisation value.
  return new TextEncoder().encode(auth);
}

async function parkAtScratchHandle(loaded: string, scratchHandle: number): Promise<void> {
  try {
    await tpm2('tpm2_evictcontrol', ['-C', 'o', '-c', loaded, handleHex(scratchHandle)]);
  } catch (error) {
    const hint = `cannot park the key at ${handleHex(scratchHandle)}; if an interrupted certification left it there, remove it with tpm2_evictcontrol -C o -c ${handleHex(scratchHandle)}`;
    throw new IrisgateError('tpm_command_failed', `${hint}: ${(error as Error).message}`, { cause: error });
  }
}

function u16(value: number): Uint8Array {
  return Uint8Array.of(value >>> 8, value & 0xff);
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

function sized(bytes: Uint8Array): Uint8Array {
  return concatBytes(u16(bytes.length), bytes);
}

/** A TPMS_AUTH_COMMAND for a plain password: no nonce, no attributes, the password as the HMAC field. */
function passwordAuth(password: Uint8Array): Uint8Array {
  return concatBytes(u32(TPM_RS_PW), sized(new Uint8Array(0)), Uint8Array.of(0), sized(password));
}

/** TPM2_Certify(objectHandle, signHandle, qualifyingData, inScheme = the AK's own scheme). */
function certifyCommand(
  objectHandle: number,
  signHandle: number,
  objectAuth: Uint8Array,
  qualifyingData: Uint8Array,
): Uint8Array {
  const authorisations = concatBytes(passwordAuth(objectAuth), passwordAuth(new Uint8Array(0)));
  const body = concatBytes(
    u32(objectHandle),
    u32(signHandle),
    u32(authorisations.length),
    authorisations,
    sized(qualifyingData),
    u16(TPM_ALG_NULL),
  );
  return concatBytes(
    u16(TPM_ST_SESSIONS),
    u32(COMMAND_HEADER_BYTES + body.length),
    u32(TPM_CC_CERTIFY),
    body,
  );
}

/** Sends a marshalled command with tpm2_send and returns the response after checking its return code. */
async function sendRawCommand(dir: string, name: string, command: Uint8Array): Promise<Uint8Array> {
  const commandFile = join(dir, 'command');
  const responseFile = join(dir, 'response');
  await writeFile(commandFile, command);
  await tpm2('tpm2_send', [commandFile, '-o', responseFile]);
  const response = new Uint8Array(await readFile(responseFile));
  if (response.length < COMMAND_HEADER_BYTES) {
    throw new IrisgateError('tpm_command_failed', `${name}: response of ${response.length} bytes`);
  }
  const rc = new DataView(response.buffer, response.byteOffset).getUint32(6);
  if (rc !== 0) {
    const decoded = await tpm2('tpm2_rc_decode', [handleHex(rc)]).catch(() => '');
    throw new IrisgateError('tpm_command_failed', `${name}: TPM error ${handleHex(rc)} ${decoded.trim()}`);
  }
  return response;
}

/** Response: header, parameterSize, TPM2B_ATTEST certifyInfo, TPMT_SIGNATURE, then the session area. */
function parseCertifyResponse(response: Uint8Array): { attest: Uint8Array; signature: Uint8Array } {
  const view = new DataView(response.buffer, response.byteOffset, response.byteLength);
  const paramsStart = COMMAND_HEADER_BYTES + 4;
  const truncated = () => new IrisgateError('tpm_command_failed', 'TPM2_Certify: truncated response');
  if (response.length < paramsStart + 2) throw truncated();
  const paramsEnd = paramsStart + view.getUint32(COMMAND_HEADER_BYTES);
  const attestEnd = paramsStart + 2 + view.getUint16(paramsStart);
  if (paramsEnd > response.length || attestEnd > paramsEnd) throw truncated();
  return {
    attest: response.slice(paramsStart + 2, attestEnd),
    signature: parseTpmtSignature(response.subarray(attestEnd, paramsEnd)),
  };
}
