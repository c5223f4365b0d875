/**
 * One shard of a ShardedGallery (iris/sharded-gallery.ts), in a worker thread: holds its templates in an
 * IrisGallery and answers searches. Messages are handled in order, so a search sees every add before it.
 */
import { parentPort } from 'node:worker_threads';
import { IrisGallery, PACKED_WORDS, type SearchOptions } from './matcher.ts';

export type ShardRequest =
  | { type: 'add'; words: Uint32Array }
  | { type: 'search'; id: number; probe: Uint32Array; options: SearchOptions };

const gallery = new IrisGallery();
const port = parentPort;
if (!port) throw new Error('gallery-shard-worker runs in a worker thread');

port.on('message', (request: ShardRequest) => {
  if (request.type === 'add') {
    for (let at = 0; at < request.words.length; at += PACKED_WORDS) {
      gallery.add(request.words.subarray(at, at + PACKED_WORDS));
    }
  } else {
    port.postMessage({ id: request.id, hits: gallery.search(request.probe, request.options) });
  }
});
port.postMessage({ ready: true });
