/**
 * The uniqueness index: every enrolled eye's template, in memory for 1:N search (iris/matcher.ts
 * IrisGallery), and encrypted at rest in the database (enrolled_templates, AES-256-GCM). Templates are
 * stored in the matcher's packed layout (1,024 little-endian 32-bit words: code bits, then mask bits, bit i
 * at word i / 32, position i % 32), so loading a gallery is a decryption and a copy per template.
 *
 * Both eyes of every person go into one gallery and a probe eye is compared with all of them, whatever
 * side either claims: a side label is the device's word, and an attacker who swaps it must not dodge the
 * search. The uniqueness threshold is the raw fractional Hamming distance over 31 rotations, as iris-mpc,
 * searched three times with the probe pre-rolled (iris/matcher.ts UNIQUENESS_ROLLS: -46..+46 columns in
 * all; each window screened at every third shift first, UNIQUENESS_SCREEN), so that a head tilted
 * at the second capture does not hide an enrolled eye; each probe eye is also
 * searched by parts (iris/matcher.ts PROBE_PARTS, DEFAULT_PART_MATCH), so an eye
 * partly covered (a patch the detector missed) still finds its enrolment through the part left clear.
 */

import {
  DEFAULT_MATCH_THRESHOLD,
  DEFAULT_PART_MATCH,
  PACKED_WORDS,
  type PackedIrisCode,
  packIrisCode,
  rotatePacked,
  UNIQUENESS_ROLLS,
  UNIQUENESS_SCREEN,
} from '../iris/matcher.ts';

import { ShardedGallery } from '../iris/sharded-gallery.ts';
import type { IrisCode } from '../protocol/iris-code-layout.ts';
import type { EyeSide } from '../protocol/signup-envelope.ts';
import type { TemplateCipher } from './backend-secrets.ts';
import type { Database, Sql } from './storage/database.ts';

const LOAD_PAGE = 5000;

export interface Duplicate {
  /** The enrolled member the probe matched. */
  memberIndex: number;
  side: EyeSide;
}

function context(memberIndex: number, side: EyeSide): string {
  return `irisgate/template/v1|${memberIndex}|${side}`;
}

function packedBytes(packed: PackedIrisCode): Uint8Array {
  const bytes = new Uint8Array(PACKED_WORDS * 4);
  const view = new DataView(bytes.buffer);
  for (let w = 0; w < PACKED_WORDS; w++) view.setUint32(4 * w, packed[w] as number, true);
  return bytes;
}

function packedFromBytes(bytes: Uint8Array): PackedIrisCode {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const packed = new Uint32Array(PACKED_WORDS);
  for (let w = 0; w < PACKED_WORDS; w++) packed[w] = view.getUint32(4 * w, true);
  return packed;
}

/** Encrypts one enrolled eye's template for the enrolled_templates row of (memberIndex, side). */
export function sealTemplate(
  cipher: TemplateCipher,
  memberIndex: number,
  side: EyeSide,
  template: IrisCode | PackedIrisCode,
): { iv: Uint8Array; ciphertext: Uint8Array } {
  const packed = template instanceof Uint32Array ? template : packIrisCode(template);
  return cipher.encrypt(packedBytes(packed), context(memberIndex, side));
}

export class UniquenessIndex {
  /** Gallery position -> member index. */
  readonly #owners: number[] = [];
  /** Probes packed once for the search and, if enrolled, the store. */
  readonly #packed = new WeakMap<IrisCode, PackedIrisCode>();

  #pack(template: IrisCode): PackedIrisCode {
    let packed = this.#packed.get(template);
    if (!packed) {
      packed = packIrisCode(template);
      this.#packed.set(template, packed);
    }
    return packed;
  }

  private constructor(
    private readonly gallery: ShardedGallery,
    private readonly cipher: TemplateCipher,
    readonly threshold: number,
  ) {}

  /**
   * Loads and decrypts every enrolled template, in member order, into a gallery searched by `searchThreads`
   * worker threads (default: one per core).
   */
  static async load(
    db: Database,
    cipher: TemplateCipher,
    {
      threshold = DEFAULT_MATCH_THRESHOLD,
      searchThreads,
      onProgress,
    }: {
      threshold?: number;
      searchThreads?: number;
      onProgress?: (loaded: number, total: number) => void;
    } = {},
  ): Promise<UniquenessIndex> {
    const index = new UniquenessIndex(await ShardedGallery.start(searchThreads), cipher, threshold);
    try {
      await index.#loadFrom(db, onProgress);
    } catch (error) {
      await index.close();
      throw error;
    }
    return index;
  }

  async #loadFrom(db: Database, onProgress?: (loaded: number, total: number) => void): Promise<void> {
    const [count] = await db.query<{ n: string | number }>('select count(*) as n from enrolled_templates');
    const total = Number(count?.n ?? 0);
    let after: [number, string] = [-1, ''];
    for (;;) {
      const rows = await db.query<{
        member_index: string | number;
        side: EyeSide;
        iv: string;
        ciphertext: string;
      }>(
        // As base64 text: PGlite returns bytea ~17x slower than text, which a 100k gallery feels at start.
        `select member_index, side, encode(iv, 'base64') as iv, encode(ciphertext, 'base64') as ciphertext
         from enrolled_templates
         where (member_index, side) > ($1, $2) order by member_index, side limit ${LOAD_PAGE}`,
        after,
      );
      const packed = rows.map((row) => {
        const member = Number(row.member_index);
        this.#owners.push(member);
        const iv = new Uint8Array(Buffer.from(row.iv, 'base64'));
        const ciphertext = new Uint8Array(Buffer.from(row.ciphertext, 'base64'));
        return packedFromBytes(this.cipher.decrypt(iv, ciphertext, context(member, row.side)));
      });
      this.gallery.add(packed);
      onProgress?.(this.size, total);
      const last = rows.at(-1);
      if (!last || rows.length < LOAD_PAGE) return;
      after = [Number(last.member_index), last.side];
    }
  }

  /** Number of enrolled eyes. */
  get size(): number {
    return this.gallery.size;
  }

  /** Stops the search threads. */
  close(): Promise<void> {
    return this.gallery.close();
  }

  /**
   * The enrolled member any of these eyes matches (below the threshold), the closest match first; with
   * `from`, among the eyes enrolled from that gallery position on (what a search begun at size `from`
   * has not seen).
   */
  async findDuplicate(
    eyes: readonly { side: EyeSide; template: IrisCode }[],
    { from = 0 }: { from?: number } = {},
  ): Promise<Duplicate | undefined> {
    let best: { hdRaw: number; duplicate: Duplicate } | undefined;
    for (const eye of eyes) {
      const probe = this.#pack(eye.template);
      for (const roll of UNIQUENESS_ROLLS) {
        const [hit] = await this.gallery.search(roll === 0 ? probe : rotatePacked(probe, roll), {
          threshold: this.threshold,
          parts: DEFAULT_PART_MATCH,
          limit: 1,
          from,
          screen: UNIQUENESS_SCREEN,
        });
        if (!hit || (best && hit.hdRaw >= best.hdRaw)) continue;
        best = {
          hdRaw: hit.hdRaw,
          duplicate: { memberIndex: this.#owners[hit.index] as number, side: eye.side },
        };
      }
    }
    return best?.duplicate;
  }

  /** Writes a new member's encrypted templates inside the caller's transaction; call `commit` after it commits. */
  async store(
    sql: Sql,
    memberIndex: number,
    eyes: readonly { side: EyeSide; template: IrisCode }[],
  ): Promise<{ commit(): void }> {
    const packed = eyes.map((eye) => this.#pack(eye.template));
    for (const [i, eye] of eyes.entries()) {
      const { iv, ciphertext } = sealTemplate(
        this.cipher,
        memberIndex,
        eye.side,
        packed[i] as PackedIrisCode,
      );
      await sql.query(
        'insert into enrolled_templates (member_index, side, iv, ciphertext) values ($1, $2, $3, $4)',
        [memberIndex, eye.side, iv, ciphertext],
      );
    }
    return {
      commit: () => {
        this.gallery.add(packed);
        for (const _ of packed) this.#owners.push(memberIndex);
      },
    };
  }
}
