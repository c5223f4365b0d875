import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DevelopmentSigner } from '../../hsm/development-signer.ts';
import { verifySignature } from '../../protocol/signature.ts';
import {
  parseSignedSignup,
  parseSignupEnvelope,
  SIGNUP_DOMAIN,
  SIGNUP_LIMITS,
  SNARK_SCALAR_FIELD,
  signupEnvelopeToJson,
  signupSigningBytes,
} from '../../protocol/signup-envelope.ts';
import { OPEN_IRIS_EXPECTED_OUTPUT } from '../support/shared-data.ts';

const template = JSON.parse(readFileSync(OPEN_IRIS_EXPECTED_OUTPUT, 'utf8')).iris_template;
delete template._format;
const hex = (byte: number, length: number) => byte.toString(16).padStart(2, '0').repeat(length);

// biome-ignore lint/suspicious/noExplicitAny: the tests build deliberately malformed JSON, field by field.
type EnvelopeJson = Record<string, any>;

function validJson(): EnvelopeJson {
  return {
    version: 1,
    deviceId: 'ig-0123456789abcdef',
    sessionNonce: hex(0xab, 32),
    counter: 7,
    deviceTimeMs: 1_795_000_000_000,
    identityCommitment: '12345678901234567890',
    eyes: [{ side: 'left', template }],
    liveness: {
      scores: { pad: 0.97, reflex: 0.88 },
      stimulus: [{ startMs: 0, durationMs: 200, level: 1 }],
      frames: [
        {
          sequence: 0,
          capturedAtMs: 1_795_000_000_010,
          sha256: hex(1, 32),
          signature: hex(2, 64),
          pupilRadiusPx: 41.5,
        },
        {
          sequence: 1,
          capturedAtMs: 1_795_000_000_043,
          sha256: hex(3, 32),
          signature: hex(4, 64),
          pupilRadiusPx: 39.25,
        },
      ],
    },
    models: [
      { name: 'pad', sha256: hex(5, 32) },
      { name: 'iris-code', sha256: hex(6, 32) },
    ],
    softwareVersion: '0.1.0',
  };
}

const bytesOf = (json: unknown) => signupSigningBytes(parseSignupEnvelope(json));

describe('signup envelope', () => {
  it('round-trips through its JSON form and starts its signed bytes with the domain', () => {
    const envelope = parseSignupEnvelope(validJson());
    expect(parseSignupEnvelope(signupEnvelopeToJson(envelope))).toEqual(envelope);
    const bytes = signupSigningBytes(envelope);
    expect(new TextDecoder().decode(bytes.subarray(4, 4 + SIGNUP_DOMAIN.length))).toBe(SIGNUP_DOMAIN);
    expect(signupSigningBytes(parseSignupEnvelope(signupEnvelopeToJson(envelope)))).toEqual(bytes);
  });

  it('signs the meaning, not the JSON text: key and list order of unordered parts do not matter', () => {
    const json = validJson();
    const reordered: EnvelopeJson = { ...validJson(), models: [...json.models].reverse() };
    reordered.liveness.scores = { reflex: 0.88, pad: 0.97 };
    expect(bytesOf(reordered)).toEqual(bytesOf(json));
  });

  it('changes its signed bytes when any field changes', () => {
    const base = bytesOf(validJson());
    const mutations: ((j: EnvelopeJson) => void)[] = [
      (j) => {
        j.deviceId = 'ig-0123456789abcdeg';
      },
      (j) => {
        j.sessionNonce = hex(0xac, 32);
      },
      (j) => {
        j.counter = 8;
      },
      (j) => {
        j.deviceTimeMs += 1;
      },
      (j) => {
        j.identityCommitment = '12345678901234567891';
      },
      (j) => {
        j.eyes[0].side = 'right';
      },
      (j) => {
        j.eyes.push({ side: 'right', template });
      },
      (j) => {
        j.liveness.scores.pad = 0.96;
      },
      (j) => {
        j.liveness.stimulus[0].level = 0.5;
      },
      (j) => {
        j.liveness.frames[1].sha256 = hex(9, 32);
      },
      (j) => {
        j.liveness.frames[0].pupilRadiusPx = 41.4;
      },
      (j) => {
        j.models[0].sha256 = hex(7, 32);
      },
      (j) => {
        j.softwareVersion = '0.1.1';
      },
    ];
    for (const mutate of mutations) {
      const json = validJson();
      mutate(json);
      expect(bytesOf(json)).not.toEqual(base);
    }
  });

  it('is signed and verified with a device key; a tampered envelope fails verification', async () => {
    const signer = await DevelopmentSigner.generate(
      join(mkdtempSync(join(tmpdir(), 'irisgate-env-')), 'k.pem'),
      'ecdsa-secp256k1-sha256',
    );
    const envelope = parseSignupEnvelope(validJson());
    const signature = await signer.sign(signupSigningBytes(envelope));
    const wire = JSON.parse(
      JSON.stringify({
        envelope: signupEnvelopeToJson(envelope),
        signature: Buffer.from(signature).toString('hex'),
      }),
    );
    const received = parseSignedSignup(wire);
    await verifySignature(
      signer.algorithm,
      signer.publicKey,
      signupSigningBytes(received.envelope),
      received.signature,
    );
    wire.envelope.counter = 8;
    const tampered = parseSignedSignup(wire);
    await expect(
      verifySignature(
        signer.algorithm,
        signer.publicKey,
        signupSigningBytes(tampered.envelope),
        tampered.signature,
      ),
    ).rejects.toMatchObject({ code: 'invalid_signature' });
  });

  it('refuses every malformed field with malformed_envelope, naming it', () => {
    const cases: [string, (j: EnvelopeJson) => void][] = [
      [
        'envelope',
        (j) => {
          j.extra = 1;
        },
      ],
      [
        'deviceId',
        (j) => {
          delete j.deviceId;
        },
      ],
      [
        'deviceId',
        (j) => {
          j.deviceId = 'has space';
        },
      ],
      [
        'sessionNonce',
        (j) => {
          j.sessionNonce = hex(0xab, 31);
        },
      ],
      [
        'sessionNonce',
        (j) => {
          j.sessionNonce = hex(0xab, 32).toUpperCase();
        },
      ],
      [
        'counter',
        (j) => {
          j.counter = -1;
        },
      ],
      [
        'counter',
        (j) => {
          j.counter = 1.5;
        },
      ],
      [
        'counter',
        (j) => {
          j.counter = 2 ** 53;
        },
      ],
      [
        'identityCommitment',
        (j) => {
          j.identityCommitment = SNARK_SCALAR_FIELD.toString();
        },
      ],
      [
        'identityCommitment',
        (j) => {
          j.identityCommitment = '0';
        },
      ],
      [
        'identityCommitment',
        (j) => {
          j.identityCommitment = '007';
        },
      ],
      [
        'identityCommitment',
        (j) => {
          j.identityCommitment = 7;
        },
      ],
      [
        'eyes',
        (j) => {
          j.eyes = [];
        },
      ],
      [
        'eyes',
        (j) => {
          j.eyes.push({ side: 'left', template });
        },
      ],
      [
        'eyes[0].side',
        (j) => {
          j.eyes[0].side = 'middle';
        },
      ],
      [
        'eyes[0].template',
        (j) => {
          j.eyes[0].template = { ...template, iris_codes: 'AAAA' };
        },
      ],
      [
        'liveness.scores.pad',
        (j) => {
          j.liveness.scores.pad = 'high';
        },
      ],
      [
        'liveness.frames[1].sequence',
        (j) => {
          j.liveness.frames[1].sequence = 5;
        },
      ],
      [
        'liveness.frames[0].signature',
        (j) => {
          j.liveness.frames[0].signature = hex(2, 63);
        },
      ],
      [
        'liveness.frames',
        (j) => {
          j.liveness.frames = Array(SIGNUP_LIMITS.maxFrames + 1).fill(j.liveness.frames[0]);
        },
      ],
      [
        'models',
        (j) => {
          j.models.push({ name: 'pad', sha256: hex(8, 32) });
        },
      ],
      [
        'models',
        (j) => {
          j.models = [];
        },
      ],
      [
        'models[0].name',
        (j) => {
          j.models[0].name = 'Bad Name';
        },
      ],
      [
        'softwareVersion',
        (j) => {
          j.softwareVersion = '';
        },
      ],
    ];
    for (const [field, mutate] of cases) {
      const json = validJson();
      mutate(json);
      expect(() => parseSignupEnvelope(json), field).toThrow(
        expect.objectContaining({ code: 'malformed_envelope', message: expect.stringContaining(field) }),
      );
    }
    expect(() => parseSignupEnvelope({ ...validJson(), version: 2 })).toThrow(
      expect.objectContaining({ code: 'unsupported_envelope_version' }),
    );
    expect(() => parseSignedSignup({ envelope: validJson(), signature: hex(1, 65) })).toThrow(
      expect.objectContaining({ code: 'malformed_envelope', message: expect.stringContaining('signature') }),
    );
    expect(() => parseSignupEnvelope('not an object')).toThrow(
      expect.objectContaining({ code: 'malformed_envelope' }),
    );
  });
});
