import { afterEach, describe, expect, it } from 'vitest';
import { IrisGallery } from '../../iris/matcher.ts';
import { ShardedGallery } from '../../iris/sharded-gallery.ts';
import { recapture, syntheticEye } from '../support/backend.ts';

describe('ShardedGallery', () => {
  let gallery: ShardedGallery | undefined;
  afterEach(async () => {
    await gallery?.close();
    gallery = undefined;
  });

  it('finds exactly what one IrisGallery finds, with the same indices and order', async () => {
    gallery = await ShardedGallery.start(3);
    const single = new IrisGallery();
    const eyes = Array.from({ length: 301 }, (_, i) => syntheticEye(5000 + i));
    // Two batches, so shards fill across add calls too.
    expect(gallery.add(eyes.slice(0, 100))).toBe(0);
    expect(gallery.add(eyes.slice(100))).toBe(100);
    for (const eye of eyes) single.add(eye);
    expect([gallery.size, gallery.threads]).toEqual([301, 3]);
    for (const target of [0, 1, 2, 150, 300]) {
      const probe = recapture(eyes[target] as (typeof eyes)[number], target);
      const expected = single.search(probe, { threshold: 0.45 });
      expect(expected[0]?.index).toBe(target);
      expect(await gallery.search(probe, { threshold: 0.45 })).toEqual(expected);
      expect(await gallery.search(probe, { threshold: 0.45, limit: 1 })).toEqual(expected.slice(0, 1));
    }
    expect(await gallery.search(syntheticEye(1), { threshold: 0.345 })).toEqual([]);
    const all = await gallery.search(syntheticEye(2));
    expect(all).toHaveLength(301);
    expect(all).toEqual(single.search(syntheticEye(2)));
    // Searching from a position on: exactly the hits at or past it, also where a shard boundary falls.
    for (const from of [1, 2, 100, 151, 300, 301]) {
      const expected = single.search(syntheticEye(3)).filter((hit) => hit.index >= from);
      expect(single.search(syntheticEye(3), { from })).toEqual(expected);
      expect(await gallery.search(syntheticEye(3), { from })).toEqual(expected);
    }
  });

  it('sees a template added just before a search', async () => {
    gallery = await ShardedGallery.start(2);
    const eye = syntheticEye(77);
    const searches = [gallery.search(eye, { threshold: 0.1 })];
    gallery.add([syntheticEye(78), eye]);
    searches.push(gallery.search(eye, { threshold: 0.1 }));
    const [before, after] = await Promise.all(searches);
    expect(before).toEqual([]);
    expect(after?.map((hit) => hit.index)).toEqual([1]);
  });

  it('fails every search once a shard has died, never answering from the others alone', async () => {
    gallery = await ShardedGallery.start(2);
    gallery.add([syntheticEye(79), syntheticEye(80)]);
    await (
      gallery as unknown as { shards: { worker: { terminate(): Promise<number> } }[] }
    ).shards[1]?.worker.terminate();
    await expect(gallery.search(syntheticEye(79), { threshold: 0.1 })).rejects.toThrow(/exited/);
    expect(() => gallery?.add([syntheticEye(81)])).toThrow(/exited/);
  });
});
