/**
 * The demo (`npm run demo`): what Irisgate can do end to end so far. It brings up the development trusted
 * hardware (SoftHSM and a software TPM), creates a development manufacturer CA, provisions one device on
 * each token, and plays the backend's side: verify the certificate chain, a signature by the iris-code key,
 * and a TPM quote over the measured device software with a fresh nonce. Later issues extend it to enrolment
 * and uniqueness proofs. State lives in .irisgate/demo (reused between runs); daemons stop at the end.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHsmFixture, stopHsmFixture } from '../hsm/fixture/fixture.ts';
import { CA_KEY_FILE, createManufacturerCa, loadManufacturerCa } from '../hsm/manufacturer-ca.ts';
import { openDeviceKeys, provisionDevice } from '../hsm/provisioning.ts';
import { extendPcr16, measureFiles, quotePcrs, readPcrs } from '../hsm/tpm-attestation.ts';
import { toHex } from '../protocol/bytes.ts';
import { verifyDeviceCertificate } from '../protocol/device-certificate.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { verifySignature } from '../protocol/signature.ts';
import { expectedPcr16, verifyQuote } from '../protocol/tpm-attestation.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const stateDir = resolve(root, '.irisgate/demo');
const step = (text: string) => process.stdout.write(`\n== ${text}\n`);
const info = (text: string) => process.stdout.write(`   ${text}\n`);

async function main(): Promise<void> {
  step('trusted hardware: SoftHSM token and software TPM (swtpm + tpm2-abrmd + tpm2-pkcs11)');
  const fixture = await startHsmFixture(join(stateDir, 'hsm'));
  try {
    info(`tokens "${fixture.softhsm.tokenLabel}" and "${fixture.tpm.tokenLabel}" ready in ${fixture.dir}`);

    step('manufacturer CA (development)');
    const caDir = join(stateDir, 'ca');
    const ca = existsSync(join(caDir, CA_KEY_FILE))
      ? await loadManufacturerCa(caDir)
      : await createManufacturerCa(caDir);
    info(`${ca.cert.subject}, valid until ${ca.cert.notAfter.toISOString()}`);

    for (const token of [fixture.softhsm, fixture.tpm]) {
      step(`device on the ${token.kind === 'tpm' ? 'TPM' : 'SoftHSM'} token`);
      const dir = join(stateDir, `device-${token.kind}`);
      const { profile, certificate, created } = await provisionDevice({ dir, token, pin: token.pin, ca });
      info(
        `device ${profile.deviceId}: keys ${created.length ? `created (${created.join(', ')})` : 'reused'}`,
      );

      const identity = await verifyDeviceCertificate(certificate, { ca: ca.cert, production: false });
      info(
        `certificate chains to the CA; keys: ${identity.keys.map((k) => `${k.role} ${k.algorithm}`).join(', ')}`,
      );
      await verifyDeviceCertificate(certificate, { ca: ca.cert, production: true }).catch(
        (error: unknown) => {
          if (!(error instanceof IrisgateError) || error.code !== 'development_key') throw error;
          info(`a production backend refuses it: ${error.code} (development CA)`);
        },
      );

      const keys = await openDeviceKeys(dir, profile, token.pin);
      try {
        const envelope = new TextEncoder().encode(
          `signup from ${profile.deviceId} at ${new Date().toISOString()}`,
        );
        const signature = await keys.irisCode.sign(envelope);
        await verifySignature(keys.irisCode.algorithm, keys.irisCode.publicKey, envelope, signature);
        info(
          `iris-code key (${keys.irisCode.algorithm}) signed a message; signature verifies: ${toHex(signature).slice(0, 32)}…`,
        );
      } finally {
        keys.close();
      }

      if (profile.tpmQuoteKey) {
        const software = [join(root, 'package.json'), join(root, 'package-lock.json')];
        const measurement = await measureFiles(software);
        const before = (await readPcrs([16])).get(16) ?? new Uint8Array(32);
        await extendPcr16(measurement);
        const nonce = randomBytes(32);
        const quote = await quotePcrs({ nonce, akHandle: profile.tpmQuoteKey.handle });
        const ak = identity.keys.find((k) => k.role === 'tpm-quote');
        if (!ak) throw new Error('TPM device certificate lists no AK');
        const expected = expectedPcr16([measurement], before);
        await verifyQuote({
          attest: quote.attest,
          signature: quote.signature,
          akPublicKey: ak.publicKey,
          nonce,
          expectedPcrs: { bank: 'sha256', values: new Map([[16, expected]]) },
        });
        info(`PCR 16 extended with the software measurement ${toHex(measurement).slice(0, 16)}…`);
        info('TPM quote over PCR 16 with a fresh nonce verifies under the AK from the certificate');
      }
    }
    step('done');
  } finally {
    await stopHsmFixture(fixture.dir);
  }
}

main().catch((error: unknown) => {
  const known = error instanceof IrisgateError ? `[${error.code}] ` : '';
  process.stderr.write(`demo failed: ${known}${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
