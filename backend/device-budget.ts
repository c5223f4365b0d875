/**
 * A per-device budget of signup attempts per hour (a sliding window), on top of the per-minute rate limits:
 * it bounds how many probes one device, stolen or compromised, can make against the uniqueness index.
 * Kept in memory; a restart gives every device a fresh hour.
 */
import { IrisgateError } from '../protocol/errors.ts';

const HOUR_MS = 3_600_000;

export class DeviceBudget {
  readonly #attempts = new Map<string, number[]>();

  constructor(readonly perHour: number) {}

  /** Counts one attempt, or throws device_budget_exhausted when the last hour already holds perHour. */
  take(deviceId: string, now = Date.now()): void {
    const recent = (this.#attempts.get(deviceId) ?? []).filter((t) => t > now - HOUR_MS);
    if (recent.length >= this.perHour) {
      const retryInS = Math.ceil(((recent[0] as number) + HOUR_MS - now) / 1000);
      this.#attempts.set(deviceId, recent);
      throw new IrisgateError(
        'device_budget_exhausted',
        `device ${deviceId} made ${this.perHour} signup attempts in the last hour; retry in ${retryInS} s`,
      );
    }
    recent.push(now);
    this.#attempts.set(deviceId, recent);
  }
}
