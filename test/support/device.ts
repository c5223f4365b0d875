/**
 * A device agent on a real backend over HTTP: a test backend (test/support/backend.ts) listening on the
 * loopback, a device provisioned on the given token (SoftHSM, or the development signer) and registered,
 * and the agent on a synthetic camera. For the device tests and the device benchmark.
 */

import { type DeviceAgent, openDeviceAgent } from '../../device/agent.ts';
import type { AgentConfig } from '../../device/agent-config.ts';
import { loadAgentConfig } from '../../device/agent-config.ts';
import { SyntheticCamera } from '../../device/camera/synthetic-camera.ts';
import type { SessionResult } from '../../device/capture-session.ts';
import { type DeviceTokenConfig, provisionDevice } from '../../hsm/provisioning.ts';
import { inject, startTestBackend, type TestBackend, tempDir } from './backend.ts';

export interface DeviceRig {
  h: TestBackend;
  port: number;
  url: string;
  deviceDir: string;
  stateDir: string;
  camera: SyntheticCamera;
  agent: DeviceAgent;
  /** The agent's configuration for this rig, pointed at another URL if given (a proxy). */
  config(backendUrl?: string): AgentConfig;
  /** Closes the agent and opens a new one on a new synthetic camera (same device, same state). */
  reopenAgent(): Promise<DeviceAgent>;
  close(): Promise<void>;
}

export async function startDeviceRig({
  token = { kind: 'development' },
  pin,
  fps = 5,
  camera = () => new SyntheticCamera({ fps, renderThreads: 1 }),
}: {
  token?: DeviceTokenConfig;
  pin?: string;
  fps?: number;
  /** The synthetic camera of each agent the rig opens. */
  camera?: () => SyntheticCamera;
} = {}): Promise<DeviceRig> {
  const h = await startTestBackend('pglite', { production: token.kind !== 'development' });
  try {
    const url = await h.backend.listen({ port: 0, host: '127.0.0.1' });
    const deviceDir = tempDir('rig-device');
    const stateDir = tempDir('rig-state');
    const { certificate } = await provisionDevice({ dir: deviceDir, token, pin, ca: h.ca });
    const registered = await inject(h.backend, 'POST', '/v1/admin/devices', {
      token: h.adminToken,
      body: { certificate: certificate.toString('pem') },
    });
    if (registered.statusCode !== 201) throw new Error(`register: ${registered.body}`);
    if (pin) process.env.IRISGATE_HSM_PIN = pin;
    const config = (backendUrl = url) => loadAgentConfig(undefined, { backendUrl, deviceDir, stateDir, fps });
    const open = async () => {
      const opened = camera();
      return { camera: opened, agent: await openDeviceAgent(config(), { camera: opened }) };
    };
    const rig: DeviceRig = {
      h,
      port: Number(new URL(url).port),
      url,
      deviceDir,
      stateDir,
      ...(await open()),
      config,
      async reopenAgent() {
        await rig.agent.close();
        Object.assign(rig, await open());
        return rig.agent;
      },
      async close() {
        await rig.agent.close();
        await h.close();
      },
    };
    return rig;
  } catch (error) {
    await h.close();
    throw error;
  }
}

/** A failed session in words, for assertion messages. */
export const failure = (result: SessionResult) =>
  result.ok ? 'ok' : `${result.state} [${result.code}] ${result.message}`;
