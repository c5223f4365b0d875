/**
 * The uniqueness index: every enrolled eye's template, in memory for 1:N search (iris/matcher.ts
 * IrisGallery), and encrypted at rest in the database (enrolled_templates, AES-256-GCM). Templates are
 * stored in the matcher's packed layout (1,024 little-endian 32-bit words: code bits, then mask bits, bit i
 * at word i / 32, position i % 32), so loading a gallery is a decryption and a copy per template.
 *
 * Both eyes of every person go into one gallery and a probe eye is compared with all of them, whatever
 * side either claims: a side label is the device's word, and an attacker who swaps it must not dodge the
 * search. The uniqueness threshold is the raw fractional Hamming distance over 31 rotations, as iris-mpc.
 */

import { IrisGallery, PACKED_WORDS, type PackedIrisCode, packIrisCode } from '../iris/matcher.ts';
import type { IrisCode } from '../protocol/iris-code-layout.ts';
import type { EyeSide } from '../protocol/signup-envelope.ts';
import type { TemplateCipher } from './backend-secrets.ts';
import type { Database, Sql } from './storage/database.ts';

export const DEFAULT_MATCH_THRESHOLD = 0.345;
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
  readonly #gallery = new IrisGallery();
  /** Gallery position -> member index. */
  readonly #owners: number[] = [];

  private constructor(
    private readonly cipher: TemplateCipher,
    readonly threshold: number,
  ) {}

  /** Loads and decrypts every enrolled template, in member order. */
  static async load(
    db: Database,
    cipher: TemplateCipher,
    {
      threshold = DEFAULT_MATCH_THRESHOLD,
      onProgress,
    }: { threshold?: number; onProgress?: (loaded: number, total: number) => void } = {},
  ): Promise<UniquenessIndex> {
    const index = new UniquenessIndex(cipher, threshold);
    const [count] = await db.query<{ n: string | number }>('select count(*) as n from enrolled_templates');
    const total = Number(count?.n ?? 0);
    let after: [number, string] = [-1, ''];
    for (;;) {
      const rows = await db.query<{
        member_index: string | number;
        side: EyeSide;
        iv: Uint8Array;
        ciphertext: Uint8Array;
      }>(
        `select member_index, side, iv, ciphertext from enrolled_templates
         where (member_index, side) > ($1, $2) order by member_index, side limit ${LOAD_PAGE}`,
        after,
      );
      for (const row of rows) {
        const member = Number(row.member_index);
        const plain = cipher.decrypt(row.iv, row.ciphertext, context(member, row.side));
        index.#gallery.add(packedFromBytes(plain));
        index.#owners.push(member);
      }
      onProgress?.(index.size, total);
      const last = rows.at(-1);
      if (!last || rows.length < LOAD_PAGE) return index;
      after = [Number(last.member_index), last.side];
    }
  }

  /** Number of enrolled eyes. */
  get size(): number {
    return this.#gallery.size;
  }

  /** The enrolled member any of these eyes matches (below the threshold), the closest match first. */
  findDuplicate(eyes: readonly { side: EyeSide; template: IrisCode }[]): Duplicate | undefined {
    let best: { hdRaw: number; duplicate: Duplicate } | undefined;
    for (const eye of eyes) {
      const [hit] = this.#gallery.search(eye.template, { threshold: this.threshold, limit: 1 });
      if (hit && (!best || hit.hdRaw < best.hdRaw)) {
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
    const packed = eyes.map((eye) => packIrisCode(eye.template));
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
        for (const template of packed) {
          this.#gallery.add(template);
          this.#owners.push(memberIndex);
        }
      },
    };
  }
}
