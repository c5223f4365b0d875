/**
 * What the agent measures when it starts (device/software-measurement.ts) and, with its keys in a TPM (the
 * software TPM of the test fixture), that it extends PCR 16 with exactly that measurement, so a quote over
 * PCR 16 shows what software signs.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openDeviceAgent } from '../../device/agent.ts';
import { loadAgentConfig } from '../../device/agent-config.ts';
import { SyntheticCamera } from '../../device/camera/synthetic-camera.ts';
import { measureDeviceSoftware } from '../../device/software-measurement.ts';
import { createManufacturerCa } from '../../hsm/manufacturer-ca.ts';
import { provisionDevice } from '../../hsm/provisioning.ts';
import { readPcrs } from '../../hsm/tpm-attestation.ts';
import { toHex } from '../../protocol/bytes.ts';
import { expectedPcr16, measurementOfFileDigests } from '../../protocol/tpm-attestation.ts';
import { tempDir } from '../support/backend.ts';
import { sharedHsmFixture } from '../support/hsm.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const sha256 = (path: string) =>
  createHash('sha256')
    .update(readFileSync(`${ROOT}/${path}`))
    .digest('hex');

describe('device software measurement', () => {
  it('hashes every source and model file, models last, and lists the models as signups carry them', async () => {
    const measured = await measureDeviceSoftware();
    const paths = measured.files.map((f) => f.path);
    expect(paths).toContain('device/capture-session.ts');
    expect(paths).toContain('iris/pipeline.ts');
    expect(paths).toContain('package-lock.json');
    expect(paths.some((p) => p.startsWith('test/') || p.startsWith('backend/'))).toBe(false);
    expect(paths.slice(-3)).toEqual(['models/iris-code.onnx', 'models/pad.onnx', 'models/patch-mask.onnx']);
    for (const file of measured.files.filter((_, i) => i % 10 === 0))
      expect(file.sha256).toBe(sha256(file.path));
    expect(measured.models.map((m) => [m.name, toHex(m.sha256)])).toEqual(
      ['iris-code', 'pad', 'patch-mask'].map((name) => [name, sha256(`models/${name}.onnx`)]),
    );
    expect(measured.measurement).toEqual(
      measurementOfFileDigests(measured.files.map((f) => Uint8Array.from(Buffer.from(f.sha256, 'hex')))),
    );
  });

  it('extends PCR 16 with the measurement when the device keys are in a TPM', async () => {
    const fixture = sharedHsmFixture();
    const deviceDir = tempDir('tpm-device');
    const ca = await createManufacturerCa(tempDir('tpm-ca'));
    await provisionDevice({ dir: deviceDir, token: fixture.tpm, pin: fixture.tpm.pin, ca });
    const before = (await readPcrs([16])).get(16) as Uint8Array;
    process.env.IRISGATE_HSM_PIN = fixture.tpm.pin;
    const config = loadAgentConfig(undefined, { deviceDir, stateDir: tempDir('tpm-state') });
    const agent = await openDeviceAgent(config, { camera: new SyntheticCamera() });
    try {
      expect(agent.pcr16Extended).toBe(true);
      const after = (await readPcrs([16])).get(16);
      expect(after).toEqual(expectedPcr16([agent.software.measurement], before));
    } finally {
      await agent.close();
    }
  }, 120_000);
});
