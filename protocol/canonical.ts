/**
 * The canonical byte encoding every Irisgate signature covers. One way to write each value, so the signer
 * and the verifier derive the same bytes from the same meaning (never from a JSON text):
 *
 *   u8, u32, u64  big-endian unsigned integers (u64 limited to 2^53 - 1, JavaScript's safe integers)
 *   f64           IEEE 754 big-endian; NaN and infinities are refused, -0 is written as 0
 *   bytes         u32 length, then the bytes
 *   string        bytes of its UTF-8 encoding (lone surrogates refused)
 *   list          u32 count, then each item
 *
 * Every signed message starts with a domain string (e.g. "irisgate/signup/v1"), so a signature made for one
 * kind of message can never verify as another.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export class CanonicalWriter {
  #bytes = new Uint8Array(256);
  #view = new DataView(this.#bytes.buffer);
  #length = 0;

  /**
   * Room for n more bytes (the buffer doubles as needed); returns where they start. Call it before reading
   * #bytes or #view: it may replace them.
   */
  #reserve(n: number): number {
    const at = this.#length;
    if (at + n > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(2 * this.#bytes.length, at + n));
      grown.set(this.#bytes.subarray(0, at));
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#length += n;
    return at;
  }

  u8(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff)
      throw new RangeError(`u8 out of range: ${value}`);
    const at = this.#reserve(1);
    this.#view.setUint8(at, value);
    return this;
  }

  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff)
      throw new RangeError(`u32 out of range: ${value}`);
    const at = this.#reserve(4);
    this.#view.setUint32(at, value);
    return this;
  }

  u64(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u64 out of range: ${value}`);
    const at = this.#reserve(8);
    this.#view.setUint32(at, Math.floor(value / 2 ** 32));
    this.#view.setUint32(at + 4, value >>> 0);
    return this;
  }

  f64(value: number): this {
    if (!Number.isFinite(value)) throw new RangeError(`f64 must be finite: ${value}`);
    const at = this.#reserve(8);
    this.#view.setFloat64(at, value === 0 ? 0 : value);
    return this;
  }

  bytes(value: Uint8Array): this {
    this.u32(value.length);
    const at = this.#reserve(value.length);
    this.#bytes.set(value, at);
    return this;
  }

  string(value: string): this {
    if (LONE_SURROGATE.test(value)) throw new RangeError('string holds a lone surrogate');
    return this.bytes(new TextEncoder().encode(value));
  }

  list<T>(items: readonly T[], write: (writer: this, item: T) => void): this {
    this.u32(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }
}

/** A writer that starts with the message's domain string. */
export function canonicalMessage(domain: string): CanonicalWriter {
  return new CanonicalWriter().string(domain);
}
