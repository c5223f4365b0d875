/**
 * A synthetic person at the device (the demo and `irisgate device enroll` on a machine without a camera):
 * they hold up their wallet's identity QR code until the agent has read it, then look into the synthetic
 * camera for the capture, then step away.
 */
import type { ReflexPresentation } from '../iris/attacks/reflex-capture.ts';
import type { DeviceAgent } from './agent.ts';
import type { SyntheticCamera } from './camera/synthetic-camera.ts';
import type { SessionEvent, SessionResult } from './capture-session.ts';
import { identityQrPayload } from './identity-qr.ts';

export async function syntheticVisit(
  agent: DeviceAgent,
  camera: SyntheticCamera,
  person: { commitment: bigint; eye: ReflexPresentation },
  onEvent?: (event: SessionEvent) => void,
): Promise<SessionResult> {
  camera.present({ kind: 'qr', payload: identityQrPayload(person.commitment) });
  try {
    return await agent.capture({
      onEvent(event) {
        if (event.state === 'authenticating') camera.present({ kind: 'eye', ...person.eye });
        onEvent?.(event);
      },
    });
  } finally {
    camera.present({ kind: 'empty' });
  }
}
