/**
 * A 1:N gallery split across worker threads, so one search uses every core (and never blocks the caller's
 * event loop). Template g lives in shard g mod n at position floor(g / n); a search asks every shard and
 * merges their hits, best first, exactly as one IrisGallery over all the templates would rank them.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { IrisCode } from '../protocol/iris-code-layout.ts';
import type { ShardRequest } from './gallery-shard-worker.ts';
import {
  PACKED_WORDS,
  type PackedIrisCode,
  packIrisCode,
  type SearchHit,
  type SearchOptions,
} from './matcher.ts';

const WORKER_URL = new URL('./gallery-shard-worker.mjs', import.meta.url);

interface Shard {
  worker: Worker;
  /** Searches sent to this shard and not answered yet. */
  pending: Map<number, { resolve(hits: SearchHit[]): void; reject(error: Error): void }>;
}

export class ShardedGallery {
  #size = 0;
  #nextSearch = 0;
  #failure: Error | undefined;

  private constructor(private readonly shards: Shard[]) {
    for (const shard of shards) {
      shard.worker.on('message', (reply: { id: number; hits: SearchHit[] }) => {
        shard.pending.get(reply.id)?.resolve(reply.hits);
        shard.pending.delete(reply.id);
      });
      shard.worker.on('error', (error) => this.#fail(error));
      shard.worker.on('exit', (code) => this.#fail(new Error(`a gallery shard exited with code ${code}`)));
    }
  }

  /** Starts `threads` shards (default: one per core) and waits until they are ready. */
  static async start(threads = availableParallelism()): Promise<ShardedGallery> {
    const count = Math.max(1, Math.floor(threads));
    const shards = await Promise.all(
      Array.from({ length: count }, async () => {
        const worker = new Worker(WORKER_URL);
        await new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
        });
        return { worker, pending: new Map() };
      }),
    );
    return new ShardedGallery(shards);
  }

  get size(): number {
    return this.#size;
  }

  get threads(): number {
    return this.shards.length;
  }

  /** Adds templates (packed or not) in order; returns the index of the first. */
  add(templates: readonly (IrisCode | PackedIrisCode)[]): number {
    this.#check();
    const first = this.#size;
    const batches: PackedIrisCode[][] = this.shards.map(() => []);
    for (const template of templates) {
      batches[this.#size % this.shards.length]?.push(
        template instanceof Uint32Array ? template : packIrisCode(template),
      );
      this.#size++;
    }
    for (const [s, batch] of batches.entries()) {
      if (batch.length === 0) continue;
      const words = new Uint32Array(batch.length * PACKED_WORDS);
      for (const [i, packed] of batch.entries()) words.set(packed, i * PACKED_WORDS);
      this.shards[s]?.worker.postMessage({ type: 'add', words } satisfies ShardRequest, [words.buffer]);
    }
    return first;
  }

  /** Every shard's hits under the threshold, merged: best first (ties: lower index first), at most `limit`. */
  async search(probe: IrisCode | PackedIrisCode, options: SearchOptions = {}): Promise<SearchHit[]> {
    this.#check();
    const packed = probe instanceof Uint32Array ? probe : packIrisCode(probe);
    const n = this.shards.length;
    const id = this.#nextSearch++;
    const perShard = await Promise.all(
      this.shards.map(
        (shard, s) =>
          new Promise<SearchHit[]>((resolve, reject) => {
            shard.pending.set(id, {
              resolve: (hits) => resolve(hits.map((hit) => ({ ...hit, index: hit.index * n + s }))),
              reject,
            });
            // Global index g = local * n + s: the first local index at or past `from`.
            const from = Math.max(0, Math.ceil(((options.from ?? 0) - s) / n));
            shard.worker.postMessage({
              type: 'search',
              id,
              probe: packed,
              options: { ...options, from },
            } satisfies ShardRequest);
          }),
      ),
    );
    const hits = perShard.flat().sort((a, b) => a.hdRaw - b.hdRaw || a.index - b.index);
    return options.limit === undefined ? hits : hits.slice(0, options.limit);
  }

  async close(): Promise<void> {
    this.#failure ??= new Error('the gallery is closed');
    await Promise.all(this.shards.map((shard) => shard.worker.terminate()));
  }

  /** A shard that fails fails every search in flight and every one after: never a silent partial search. */
  #fail(error: Error): void {
    this.#failure ??= error;
    for (const shard of this.shards) {
      for (const { reject } of shard.pending.values()) reject(this.#failure);
      shard.pending.clear();
    }
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
  }
}
