import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, randomUUID, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadHsmFixture } from '../../hsm/fixture/fixture.ts';
import { Pkcs11Token } from '../../hsm/pkcs11-signer.ts';
import {
  type AttestationKey,
  certifyPkcs11Key,
  DEFAULT_CERTIFY_SCRATCH_HANDLE,
  extendPcr16,
  type KeyCertification,
  measureFiles,
  provisionAttestationKey,
  type Quote,
  quotePcrs,
  readPcrs,
} from '../../hsm/tpm-attestation.ts';
import { bigIntToBytes, bytesToBigInt, concatBytes } from '../../protocol/bytes.ts';
import { publicKeyFromSpki } from '../../protocol/signature.ts';
import {
  expectedPcr16,
  measurementOfFileDigests,
  parseEccPublic,
  parseTpmsAttest,
  parseTpmtSignature,
  TPMA_OBJECT,
  tpmObjectName,
  verifyKeyCertification,
  verifyQuote,
} from '../../protocol/tpm-attestation.ts';

const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const RESIDENT = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin;

// TPM marshalling written out by hand, so the parsers' offsets are pinned independently of tpm2-tools.
const u8 = (v: number) => Uint8Array.of(v);
const u16 = (v: number) => Uint8Array.of(v >>> 8, v & 0xff);
const u32 = (v: number) => bigIntToBytes(BigInt(v), 4);
const u64 = (v: bigint) => bigIntToBytes(v, 8);
const sized = (b: Uint8Array) => concatBytes(u16(b.length), b);
const filled = (length: number, value: number) => new Uint8Array(length).fill(value);

function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

const QUALIFIED_SIGNER = concatBytes(u16(0x000b), filled(32, 0x51));
const QUALIFIED_NAME = concatBytes(u16(0x000b), filled(32, 0x99));
const CLOCK_INFO = concatBytes(u64(0x0102030405060708n), u32(7), u32(3), u8(1));
const FIRMWARE = u64(0x1122334455667788n);

/** Offset of the first clockInfo byte in a TPMS_ATTEST with these field sizes. */
function clockOffset(qualifiedSigner: Uint8Array, extraData: Uint8Array): number {
  return 4 + 2 + 2 + qualifiedSigner.length + 2 + extraData.length;
}

function attestHeader(type: number, extraData: Uint8Array): Uint8Array {
  return concatBytes(
    ...[u32(0xff544347), u16(type), sized(QUALIFIED_SIGNER), sized(extraData), CLOCK_INFO, FIRMWARE],
  );
}

/** A quote selecting `pcrs` of the SHA-256 bank (3-byte bitmap) whose digest covers `values`. */
function quoteAttest(nonce: Uint8Array, pcrs: number[], values: Uint8Array[]): Uint8Array {
  const bitmap = new Uint8Array(3);
  for (const pcr of pcrs) bitmap[pcr >> 3] = (bitmap[pcr >> 3] as number) | (1 << (pcr & 7));
  const selection = concatBytes(u32(1), u16(0x000b), u8(3), bitmap);
  return concatBytes(attestHeader(0x8018, nonce), selection, sized(sha256(...values)));
}

function certifyAttest(nonce: Uint8Array, name: Uint8Array): Uint8Array {
  return concatBytes(attestHeader(0x8017, nonce), sized(name), sized(QUALIFIED_NAME));
}

/** TPMT_PUBLIC of a P-256 key; AES-128-CFB and ECDSA/SHA-256 so the parameter details get parsed too. */
function eccTpmtPublic(point: Uint8Array, attributes: number): Uint8Array {
  return concatBytes(
    ...[u16(0x0023), u16(0x000b), u32(attributes), sized(new Uint8Array(0))],
    ...[u16(0x0006), u16(128), u16(0x0043), u16(0x0018), u16(0x000b), u16(0x0003), u16(0x0010)],
    ...[sized(point.subarray(1, 33)), sized(point.subarray(33))],
  );
}

interface SoftwareKey {
  privateKey: KeyObject;
  point: Uint8Array;
}

function softwareP256Key(): SoftwareKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKey,
    point: publicKeyFromSpki(publicKey.export({ format: 'der', type: 'spki' })).publicKey,
  };
}

function signRaw(key: SoftwareKey, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign('sha256', message, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }));
}

/** The same signature with s replaced by n - s when it is low: what a TPM returns half of the time. */
function highS(signature: Uint8Array): Uint8Array {
  const s = bytesToBigInt(signature.subarray(32));
  return concatBytes(signature.subarray(0, 32), bigIntToBytes(s > P256_N >> 1n ? s : P256_N - s, 32));
}

function withCode(code: string): unknown {
  return expect.objectContaining({ name: 'IrisgateError', code });
}

function flipByte(bytes: Uint8Array, offset: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[offset] = (copy[offset] as number) ^ 0x01;
  return copy;
}

describe('TPM structure parsers (hand-built bytes)', () => {
  const nonce = filled(32, 0xab);
  const pcr16 = filled(32, 0x16);

  it('reads every TPMS_ATTEST quote field at its offset', () => {
    expect(parseTpmsAttest(quoteAttest(nonce, [16], [pcr16]))).toEqual({
      type: 'quote',
      qualifiedSigner: QUALIFIED_SIGNER,
      extraData: nonce,
      clockInfo: { clock: 0x0102030405060708n, resetCount: 7, restartCount: 3, safe: true },
      firmwareVersion: 0x1122334455667788n,
      pcrSelections: [{ hashAlg: 0x000b, pcrs: [16] }],
      pcrDigest: sha256(pcr16),
    });
  });

  it('reads a PCR bitmap as bit i of byte j = PCR 8j+i', () => {
    const attest = parseTpmsAttest(quoteAttest(nonce, [0, 7, 8, 23], []));
    expect(attest.type === 'quote' && attest.pcrSelections).toEqual([
      { hashAlg: 0x000b, pcrs: [0, 7, 8, 23] },
    ]);
  });

  it('reads a TPMS_ATTEST certification', () => {
    const name = concatBytes(u16(0x000b), filled(32, 0x42));
    expect(parseTpmsAttest(certifyAttest(nonce, name))).toMatchObject({
      type: 'certify',
      extraData: nonce,
      name,
      qualifiedName: QUALIFIED_NAME,
    });
  });

  it('refuses every truncation, trailing bytes, a wrong magic and a non-boolean safe flag', () => {
    const quote = quoteAttest(nonce, [16], [pcr16]);
    for (let length = 0; length < quote.length; length++) {
      expect(() => parseTpmsAttest(quote.subarray(0, length))).toThrow(withCode('malformed_attestation'));
    }
    expect(() => parseTpmsAttest(quote.subarray(0, 10))).toThrow(
      /qualifiedSigner at offset 8 needs 34 bytes/,
    );
    expect(() => parseTpmsAttest(concatBytes(quote, u8(0)))).toThrow(/1 trailing bytes/);
    expect(() => parseTpmsAttest(concatBytes(u32(0xff544348), quote.subarray(4)))).toThrow(/magic/);
    const unsafe = Uint8Array.from(quote);
    unsafe[clockOffset(QUALIFIED_SIGNER, nonce) + 16] = 2;
    expect(() => parseTpmsAttest(unsafe)).toThrow(/clockInfo.safe/);
  });

  it('refuses attestation types other than quote and certify', () => {
    const nvCertify = concatBytes(
      u32(0xff544347),
      u16(0x8014),
      quoteAttest(nonce, [16], [pcr16]).subarray(6),
    );
    expect(() => parseTpmsAttest(nvCertify)).toThrow(withCode('wrong_attestation_type'));
  });

  it('turns an ECDSA/SHA-256 TPMT_SIGNATURE into 64-byte r||s, left-padding short integers', () => {
    const r = filled(31, 0x01);
    const s = filled(32, 0x02);
    expect(parseTpmtSignature(concatBytes(u16(0x0018), u16(0x000b), sized(r), sized(s)))).toEqual(
      concatBytes(u8(0), r, s),
    );
    const rsaSsa = concatBytes(u16(0x0014), u16(0x000b), sized(r), sized(s));
    expect(() => parseTpmtSignature(rsaSsa)).toThrow(withCode('unsupported_algorithm'));
    const tooLong = concatBytes(u16(0x0018), u16(0x000b), sized(filled(33, 1)), sized(s));
    expect(() => parseTpmtSignature(tooLong)).toThrow(withCode('malformed_attestation'));
  });

  it('reads an ECC public area as TPMT_PUBLIC or TPM2B_PUBLIC and names it', () => {
    const { point } = softwareP256Key();
    const tpmt = eccTpmtPublic(point, RESIDENT);
    const parsed = parseEccPublic(tpmt);
    expect(parsed).toEqual({
      tpmtPublic: tpmt,
      type: 0x0023,
      nameAlg: 0x000b,
      objectAttributes: RESIDENT,
      authPolicy: new Uint8Array(0),
      curveId: 0x0003,
      publicKey: point,
    });
    expect(parseEccPublic(sized(tpmt))).toEqual(parsed);
    expect(tpmObjectName(parsed)).toEqual(concatBytes(u16(0x000b), sha256(tpmt)));
    expect(() => parseEccPublic(concatBytes(tpmt, u8(0)))).toThrow(withCode('malformed_attestation'));
    const p384 = Uint8Array.from(tpmt);
    p384[21] = 0x04;
    expect(() => parseEccPublic(p384)).toThrow(withCode('unsupported_algorithm'));
  });

  it('computes the measurement and the expected PCR 16 the way the TPM extends', () => {
    const software = sha256(new TextEncoder().encode('software'));
    const model = sha256(new TextEncoder().encode('model'));
    const measurement = measurementOfFileDigests([software, model]);
    expect(measurement).toEqual(sha256(concatBytes(software, model)));
    expect(expectedPcr16([])).toEqual(new Uint8Array(32));
    expect(expectedPcr16([measurement])).toEqual(sha256(new Uint8Array(32), measurement));
    expect(() => expectedPcr16([new Uint8Array(20)])).toThrow(withCode('invalid_argument'));
  });
});

describe('verification of hand-built evidence signed by a software key', () => {
  const ak = softwareP256Key();
  const nonce = randomBytes(32);
  const pcr16 = randomBytes(32);
  const expectedPcrs = { bank: 'sha256' as const, values: new Map([[16, pcr16]]) };

  it('accepts a quote signed with a high-S signature (the TPM does not normalise)', async () => {
    const attest = quoteAttest(nonce, [16], [pcr16]);
    const signature = highS(signRaw(ak, attest));
    await expect(
      verifyQuote({ attest, signature, akPublicKey: ak.point, nonce, expectedPcrs }),
    ).resolves.toMatchObject({
      type: 'quote',
      pcrSelections: [{ hashAlg: 0x000b, pcrs: [16] }],
    });
  });

  it('refuses a quote selecting other PCRs than expected, even with a matching digest', async () => {
    const attest = quoteAttest(nonce, [16, 23], [pcr16, pcr16]);
    const evidence = { attest, signature: signRaw(ak, attest), akPublicKey: ak.point, nonce, expectedPcrs };
    await expect(verifyQuote(evidence)).rejects.toThrow(/selects PCRs \[sha256:16,sha256:23\]/);
  });

  it('refuses a certified key without fixedTPM, fixedParent and sensitiveDataOrigin', async () => {
    const key = softwareP256Key();
    for (const missing of [TPMA_OBJECT.fixedTPM, TPMA_OBJECT.fixedParent, TPMA_OBJECT.sensitiveDataOrigin]) {
      const certifiedPublic = eccTpmtPublic(key.point, RESIDENT & ~missing);
      const attest = certifyAttest(nonce, tpmObjectName(parseEccPublic(certifiedPublic)));
      const evidence = {
        attest,
        signature: signRaw(ak, attest),
        akPublicKey: ak.point,
        nonce,
        certifiedPublic,
      };
      await expect(verifyKeyCertification({ ...evidence, claimedPublicKey: key.point })).rejects.toThrow(
        withCode('key_not_in_tpm'),
      );
    }
  });

  it('refuses a public area whose name is not the certified one', async () => {
    const key = softwareP256Key();
    const attest = certifyAttest(nonce, concatBytes(u16(0x000b), filled(32, 0x42)));
    const evidence = {
      attest,
      signature: signRaw(ak, attest),
      akPublicKey: ak.point,
      nonce,
      certifiedPublic: eccTpmtPublic(key.point, RESIDENT),
      claimedPublicKey: key.point,
    };
    await expect(verifyKeyCertification(evidence)).rejects.toThrow(/certified object 000b4242/);
  });
});

const execFileAsync = promisify(execFile);

describe('attestation with the software TPM', () => {
  let ak: AttestationKey;
  let token: Pkcs11Token;
  let tokenLabel: string;
  let userPin: string;

  beforeAll(async () => {
    const fixture = loadHsmFixture(inject('hsmFixtureDir'));
    tokenLabel = fixture.tpm.tokenLabel;
    userPin = fixture.tpm.pin;
    token = Pkcs11Token.open(fixture.tpm, fixture.tpm.pin);
    ak = await provisionAttestationKey();
  });

  afterAll(() => token?.close());

  async function measuredQuote(): Promise<{ quote: Quote; nonce: Uint8Array; pcr16: Uint8Array }> {
    await extendPcr16(randomBytes(32));
    const pcr16 = (await readPcrs([16])).get(16) as Uint8Array;
    const nonce = randomBytes(32);
    return { quote: await quotePcrs({ nonce }), nonce, pcr16 };
  }

  const sha256Pcrs = (pcr16: Uint8Array) => ({ bank: 'sha256' as const, values: new Map([[16, pcr16]]) });

  it('keeps one persistent AK: provisioning again returns the same key', async () => {
    expect(ak.publicKey).toHaveLength(65);
    expect(await provisionAttestationKey()).toEqual(ak);
  });

  it('quotes PCR 16 after a reset and a measurement, and the verifier recomputes it from the file hashes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'irisgate-measure-'));
    try {
      const software = new TextEncoder().encode('device software v1');
      const model = randomBytes(4096);
      await writeFile(join(dir, 'software'), software);
      await writeFile(join(dir, 'model'), model);
      const measurement = await measureFiles([join(dir, 'software'), join(dir, 'model')]);
      expect(measurement).toEqual(sha256(sha256(software), sha256(model)));

      await execFileAsync('tpm2_pcrreset', ['16']);
      await extendPcr16(measurement);
      const nonce = randomBytes(32);
      const quote = await quotePcrs({ nonce, pcrs: [16], akHandle: ak.handle });
      const expected = expectedPcr16([measurementOfFileDigests([sha256(software), sha256(model)])]);
      expect(quote.pcrValues.get(16)).toEqual(expected);
      const verified = await verifyQuote({
        ...quote,
        akPublicKey: ak.publicKey,
        nonce,
        expectedPcrs: sha256Pcrs(expected),
      });
      expect(verified.pcrSelections).toEqual([{ hashAlg: 0x000b, pcrs: [16] }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('extends PCR 16 as SHA-256(old || digest), from whatever value it holds', async () => {
    const before = (await readPcrs([16])).get(16) as Uint8Array;
    const digest = randomBytes(32);
    await extendPcr16(digest);
    expect((await readPcrs([16])).get(16)).toEqual(sha256(before, digest));
  });

  it('refuses a quote with another nonce', async () => {
    const { quote, pcr16 } = await measuredQuote();
    const evidence = {
      ...quote,
      akPublicKey: ak.publicKey,
      nonce: randomBytes(32),
      expectedPcrs: sha256Pcrs(pcr16),
    };
    await expect(verifyQuote(evidence)).rejects.toThrow(withCode('nonce_mismatch'));
  });

  it('refuses a quote over an unexpected PCR value, or over fewer PCRs than expected', async () => {
    const { quote, nonce, pcr16 } = await measuredQuote();
    const evidence = { ...quote, akPublicKey: ak.publicKey, nonce };
    await expect(verifyQuote({ ...evidence, expectedPcrs: sha256Pcrs(randomBytes(32)) })).rejects.toThrow(
      withCode('pcr_mismatch'),
    );
    const twoPcrs = {
      bank: 'sha256' as const,
      values: new Map([
        [16, pcr16],
        [23, new Uint8Array(32)],
      ]),
    };
    await expect(verifyQuote({ ...evidence, expectedPcrs: twoPcrs })).rejects.toThrow(
      withCode('pcr_mismatch'),
    );
  });

  it('refuses a quote checked against another AK, or signed by another key', async () => {
    const { quote, nonce, pcr16 } = await measuredQuote();
    const other = softwareP256Key();
    const evidence = { ...quote, nonce, expectedPcrs: sha256Pcrs(pcr16) };
    await expect(verifyQuote({ ...evidence, akPublicKey: other.point })).rejects.toThrow(
      withCode('invalid_signature'),
    );
    const forged = { ...evidence, akPublicKey: ak.publicKey, signature: signRaw(other, quote.attest) };
    await expect(verifyQuote(forged)).rejects.toThrow(withCode('invalid_signature'));
  });

  it('refuses a quote with a flipped byte, and a truncated one', async () => {
    const { quote, nonce, pcr16 } = await measuredQuote();
    const evidence = { ...quote, akPublicKey: ak.publicKey, nonce, expectedPcrs: sha256Pcrs(pcr16) };
    const parsed = parseTpmsAttest(quote.attest);
    const flipped = flipByte(quote.attest, clockOffset(parsed.qualifiedSigner, parsed.extraData) + 3);
    await expect(verifyQuote({ ...evidence, attest: flipped })).rejects.toThrow(
      withCode('invalid_signature'),
    );
    const truncated = quote.attest.subarray(0, quote.attest.length - 1);
    await expect(verifyQuote({ ...evidence, attest: truncated })).rejects.toThrow(
      withCode('malformed_attestation'),
    );
  });

  describe('certification of a tpm2-pkcs11 key', () => {
    let keyPoint: Uint8Array;
    let nonce: Uint8Array;
    let certification: KeyCertification;

    beforeAll(async () => {
      const keyLabel = `attested-${randomUUID().slice(0, 8)}`;
      keyPoint = (await token.generateSigner(keyLabel, 'ecdsa-p256-sha256')).publicKey;
      nonce = randomBytes(32);
      certification = await certifyPkcs11Key({ tokenLabel, keyLabel, userPin, nonce, akHandle: ak.handle });
    });

    it('verifies: the AK certified the key with the nonce, and the key is TPM-resident', async () => {
      const verified = await verifyKeyCertification({
        ...certification,
        akPublicKey: ak.publicKey,
        nonce,
        claimedPublicKey: keyPoint,
      });
      expect(verified.certifiedKey.publicKey).toEqual(keyPoint);
      expect(verified.certifiedKey.objectAttributes & RESIDENT).toBe(RESIDENT);
    });

    it('leaves no persistent copy of the key behind', async () => {
      const { stdout } = await execFileAsync('tpm2_getcap', ['handles-persistent']);
      expect(stdout).not.toContain(`0x${DEFAULT_CERTIFY_SCRATCH_HANDLE.toString(16)}`);
    });

    it('refuses the evidence for another claimed key, or with another nonce', async () => {
      const evidence = { ...certification, akPublicKey: ak.publicKey, nonce, claimedPublicKey: keyPoint };
      await expect(
        verifyKeyCertification({ ...evidence, claimedPublicKey: softwareP256Key().point }),
      ).rejects.toThrow(withCode('key_not_in_tpm'));
      await expect(verifyKeyCertification({ ...evidence, nonce: randomBytes(32) })).rejects.toThrow(
        withCode('nonce_mismatch'),
      );
    });

    it('refuses a certification passed as a quote, and a quote passed as a certification', async () => {
      const asQuote = {
        ...certification,
        akPublicKey: ak.publicKey,
        nonce,
        expectedPcrs: sha256Pcrs(randomBytes(32)),
      };
      await expect(verifyQuote(asQuote)).rejects.toThrow(withCode('wrong_attestation_type'));
      const { quote, nonce: quoteNonce } = await measuredQuote();
      const asCertification = {
        ...quote,
        akPublicKey: ak.publicKey,
        nonce: quoteNonce,
        certifiedPublic: certification.certifiedPublic,
        claimedPublicKey: keyPoint,
      };
      await expect(verifyKeyCertification(asCertification)).rejects.toThrow(
        withCode('wrong_attestation_type'),
      );
    });
  });
});
