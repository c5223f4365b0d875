/**
 * `irisgate hsm`: the manufacturer CA, device provisioning, and the development HSM fixture.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { fromHex, toHex } from '../protocol/bytes.ts';
import { readDeviceCertificate } from '../protocol/device-certificate.ts';
import { IrisgateError } from '../protocol/errors.ts';
import { FIXTURE_SCRIPT, loadHsmFixture } from './fixture/fixture.ts';
import { CA_CERT_FILE, createManufacturerCa, loadManufacturerCa } from './manufacturer-ca.ts';
import { defaultModulePath } from './pkcs11-modules.ts';
import {
  type DeviceTokenConfig,
  loadDeviceProfile,
  openDeviceKeys,
  provisionDevice,
} from './provisioning.ts';
import { extendPcr16, measureFiles, quotePcrs } from './tpm-attestation.ts';

const DEFAULT_DEVICE_DIR = '.irisgate/device';
const DEFAULT_CA_DIR = '.irisgate/ca';
const TOKEN_KINDS = ['softhsm', 'tpm', 'pkcs11', 'development'] as const;

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

interface InitOptions {
  dir: string;
  ca: string;
  token: (typeof TOKEN_KINDS)[number];
  module?: string;
  tokenLabel?: string;
  pin?: string;
  fixture?: string;
  deviceId?: string;
  json: boolean;
}

/** Works out which token to use and its PIN from the options, the fixture and the environment. */
function resolveToken(options: InitOptions): { token: DeviceTokenConfig; pin?: string } {
  if (options.token === 'development') return { token: { kind: 'development' } };
  if (options.fixture) {
    if (options.token === 'pkcs11')
      throw new IrisgateError('invalid_argument', '--fixture provides softhsm or tpm');
    const fixture = loadHsmFixture(resolve(options.fixture));
    const { module, tokenLabel, pin, kind } = fixture[options.token];
    return { token: { module, tokenLabel, kind }, pin: options.pin ?? pin };
  }
  const module = options.module ?? defaultModulePath(options.token);
  if (!options.tokenLabel)
    throw new IrisgateError('invalid_argument', '--token-label is required (or --fixture)');
  const pin = options.pin ?? process.env.IRISGATE_HSM_PIN;
  if (!pin) throw new IrisgateError('invalid_argument', 'give the user PIN with --pin or IRISGATE_HSM_PIN');
  return { token: { module, tokenLabel: options.tokenLabel, kind: options.token }, pin };
}

function caCommand(): Command {
  const ca = new Command('ca').description('the manufacturer CA that certifies devices');
  ca.command('init')
    .description(
      'create a DEVELOPMENT manufacturer CA (P-256 key in a file); a real deployment brings its own',
    )
    .option('--dir <dir>', 'where to write ca.cert.pem and ca.key.pem', DEFAULT_CA_DIR)
    .option('--name <name>', 'CA common name', 'Irisgate Development Manufacturer CA')
    .option('--days <days>', 'validity in days', (v) => Number.parseInt(v, 10), 3650)
    .option('--json', 'print JSON', false)
    .action(async (options: { dir: string; name: string; days: number; json: boolean }) => {
      const dir = resolve(options.dir);
      const { cert } = await createManufacturerCa(dir, { name: options.name, validityDays: options.days });
      print(
        options.json,
        {
          dir,
          subject: cert.subject,
          serialNumber: cert.serialNumber,
          notAfter: cert.notAfter.toISOString(),
        },
        `created development CA "${cert.subject}" in ${dir} (valid until ${cert.notAfter.toISOString()})`,
      );
    });
  return ca;
}

function initCommand(): Command {
  return new Command('init')
    .description(
      "create (or reuse) the device's attestation and iris-code keys in its token and certify them",
    )
    .option('--dir <dir>', 'device profile folder', DEFAULT_DEVICE_DIR)
    .option('--ca <dir>', 'manufacturer CA folder', DEFAULT_CA_DIR)
    .addOption(new Option('--token <kind>', 'where the keys live').choices(TOKEN_KINDS).default('softhsm'))
    .option('--module <path>', 'PKCS#11 module (default: the Debian path for --token)')
    .option('--token-label <label>', 'PKCS#11 token label')
    .option('--pin <pin>', 'token user PIN (default: $IRISGATE_HSM_PIN)')
    .option('--fixture <dir>', 'use the development token brought up by `irisgate hsm fixture up DIR`')
    .option('--device-id <id>', 'device id (default: derived from the attestation key)')
    .option('--json', 'print JSON', false)
    .action(async (options: InitOptions) => {
      const dir = resolve(options.dir);
      const caDir = resolve(options.ca);
      if (!existsSync(resolve(caDir, CA_CERT_FILE))) {
        throw new IrisgateError(
          'invalid_argument',
          `no manufacturer CA in ${caDir} (run irisgate hsm ca init)`,
        );
      }
      const { token, pin } = resolveToken(options);
      const ca = await loadManufacturerCa(caDir);
      const result = await provisionDevice({ dir, token, pin, ca, deviceId: options.deviceId });
      const { deviceId, keys } = result.profile;
      print(
        options.json,
        { dir, deviceId, created: result.created, keys, certificateSerial: result.certificate.serialNumber },
        [
          `device ${deviceId} provisioned in ${dir} (token: ${token.kind})`,
          ...(['attestation', 'irisCode'] as const).map(
            (name) =>
              `  ${name}: ${keys[name].algorithm} ${keys[name].keyId} (${result.created.includes(name) ? 'created' : 'reused'})`,
          ),
          `  certificate serial ${result.certificate.serialNumber}, issued by "${ca.cert.subject}"`,
        ].join('\n'),
      );
    });
}

function showCommand(): Command {
  return new Command('show')
    .description('print the device id, key algorithms, public keys and certificate')
    .option('--dir <dir>', 'device profile folder', DEFAULT_DEVICE_DIR)
    .option('--check-keys', 'also open the token and check the keys are there (needs the PIN)', false)
    .option('--pin <pin>', 'token user PIN for --check-keys (default: $IRISGATE_HSM_PIN)')
    .option('--fixture <dir>', 'development fixture whose environment the token needs')
    .option('--json', 'print JSON', false)
    .action(
      async (options: { dir: string; checkKeys: boolean; pin?: string; fixture?: string; json: boolean }) => {
        const dir = resolve(options.dir);
        const { profile, certificate } = await loadDeviceProfile(dir);
        const identity = readDeviceCertificate(certificate);
        if (options.checkKeys) {
          let pin = options.pin ?? process.env.IRISGATE_HSM_PIN;
          if (options.fixture && profile.token.kind !== 'development') {
            pin ??= loadHsmFixture(resolve(options.fixture))[profile.token.kind === 'tpm' ? 'tpm' : 'softhsm']
              .pin;
          }
          (await openDeviceKeys(dir, profile, pin)).close();
        }
        const keys = identity.keys.map((k) => ({ ...k, publicKey: toHex(k.publicKey) }));
        const summary = {
          deviceId: profile.deviceId,
          token: profile.token,
          keys,
          certificate: {
            subject: certificate.subject,
            issuer: certificate.issuer,
            serialNumber: certificate.serialNumber,
            notBefore: certificate.notBefore.toISOString(),
            notAfter: certificate.notAfter.toISOString(),
            pem: certificate.toString('pem'),
          },
          keysChecked: options.checkKeys,
        };
        print(
          options.json,
          summary,
          [
            `device id:   ${profile.deviceId}`,
            `token:       ${profile.token.kind}${'tokenLabel' in profile.token ? ` "${profile.token.tokenLabel}" (${profile.token.module})` : ''}`,
            ...keys.map((k) => `key ${k.role.padEnd(12)} ${k.algorithm} in ${k.store}\n  ${k.publicKey}`),
            `certificate: ${certificate.subject}, serial ${certificate.serialNumber}`,
            `  issuer ${certificate.issuer}, valid ${summary.certificate.notBefore} to ${summary.certificate.notAfter}`,
            options.checkKeys ? 'keys:        present in the token and signing' : '',
            certificate.toString('pem'),
          ]
            .filter(Boolean)
            .join('\n'),
        );
      },
    );
}

function quoteCommand(): Command {
  return new Command('quote')
    .description("TPM devices: measure files into PCR 16 (optional) and quote PCR 16 with the device's AK")
    .requiredOption('--nonce <hex>', "the verifier's nonce, hex (up to 64 bytes)")
    .option('--dir <dir>', 'device profile folder', DEFAULT_DEVICE_DIR)
    .option(
      '--measure <files...>',
      'extend PCR 16 with the measurement of these files first (software, models)',
    )
    .option('--fixture <dir>', 'development fixture whose environment the TPM tools need')
    .option('--json', 'print JSON', false)
    .action(
      async (options: {
        nonce: string;
        dir: string;
        measure?: string[];
        fixture?: string;
        json: boolean;
      }) => {
        if (!/^(?:[0-9a-fA-F]{2}){1,64}$/.test(options.nonce)) {
          throw new IrisgateError('invalid_argument', '--nonce must be 1-64 bytes of hex');
        }
        const missing = options.measure?.find((file) => !existsSync(resolve(file)));
        if (missing) throw new IrisgateError('invalid_argument', `cannot measure ${missing}: no such file`);
        if (options.fixture) loadHsmFixture(resolve(options.fixture));
        const { profile } = await loadDeviceProfile(resolve(options.dir));
        if (!profile.tpmQuoteKey)
          throw new IrisgateError('invalid_argument', `device ${profile.deviceId} has no TPM`);
        const measurement = options.measure
          ? await measureFiles(options.measure.map((f) => resolve(f)))
          : undefined;
        if (measurement) await extendPcr16(measurement);
        const quote = await quotePcrs({
          nonce: fromHex(options.nonce),
          akHandle: profile.tpmQuoteKey.handle,
        });
        const pcr16 = toHex(quote.pcrValues.get(16) ?? new Uint8Array());
        const evidence = {
          deviceId: profile.deviceId,
          nonce: options.nonce.toLowerCase(),
          measurement: measurement && toHex(measurement),
          pcrs: { 16: pcr16 },
          attest: Buffer.from(quote.attest).toString('base64'),
          signature: toHex(quote.signature),
          akPublicKey: profile.tpmQuoteKey.publicKey,
        };
        print(options.json, evidence, `PCR 16 = ${pcr16}\nquote (base64 TPMS_ATTEST): ${evidence.attest}`);
      },
    );
}

function fixtureCommand(): Command {
  const fixture = new Command('fixture').description(
    'DEVELOPMENT: bring up or stop a SoftHSM token and a software TPM (swtpm + tpm2-pkcs11) under a folder',
  );
  for (const action of ['up', 'down'] as const) {
    fixture
      .command(`${action} <dir>`)
      .description(
        action === 'up' ? 'start (idempotent) and write DIR/fixture.json' : 'stop the daemons by PID',
      )
      .action((dir: string) => {
        execFileSync('bash', [FIXTURE_SCRIPT, action, resolve(dir)], { stdio: 'inherit' });
      });
  }
  return fixture;
}

export function hsmCommand(): Command {
  return new Command('hsm')
    .description('device keys in trusted hardware: manufacturer CA, provisioning, attestation')
    .addCommand(caCommand())
    .addCommand(initCommand())
    .addCommand(showCommand())
    .addCommand(quoteCommand())
    .addCommand(fixtureCommand());
}
