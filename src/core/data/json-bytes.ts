/**
 * JSON written as UTF-8 bytes, for the build's train pass: a Parquet string column's bytes go to
 * the output escaped, never decoded into a JS string and encoded again. For valid UTF-8 the bytes
 * are exactly what `Buffer.from(JSON.stringify(text))` gives (valid UTF-8 holds no lone
 * surrogates, the one other thing JSON.stringify escapes); the scan checks validity as it goes,
 * and the caller takes the string path for invalid bytes. V8's JSON.stringify escapes a decoded
 * text at ~100 MB/s and the result must be encoded again; this is several times faster, and
 * there are ~870 MB of text at full scale.
 */

const HEX = "0123456789abcdef";
/** The escape of each byte below 0x20, `"` and `\`, as JSON.stringify writes it; undefined: as is. */
const ESCAPES: (Uint8Array | undefined)[] = Array.from({ length: 256 }, (_, b) => {
  const short: Record<number, string> = { 0x08: "\\b", 0x09: "\\t", 0x0a: "\\n", 0x0c: "\\f", 0x0d: "\\r", 0x22: '\\"', 0x5c: "\\\\" };
  if (short[b]) return Buffer.from(short[b], "latin1");
  if (b < 0x20) return Buffer.from(`\\u00${HEX[b >> 4]}${HEX[b & 15]}`, "latin1");
  return undefined;
});

/**
 * An Int32Array over a whole buffer, for the word-at-a-time scan; the last few are reused (a
 * page's strings share one buffer, and a row's columns come from a few pages).
 */
const wordsCache: { buffer?: ArrayBuffer; words: Int32Array }[] = Array.from({ length: 8 }, () => ({ words: new Int32Array(0) }));
let wordsNext = 0;
function wordsOf(buffer: ArrayBuffer): Int32Array {
  for (const e of wordsCache) if (e.buffer === buffer) return e.words;
  const e = wordsCache[wordsNext]!;
  wordsNext = (wordsNext + 1) % wordsCache.length;
  e.buffer = buffer;
  e.words = new Int32Array(buffer, 0, buffer.byteLength >> 2);
  return e.words;
}

/**
 * Runs of plain bytes up to this long are copied by a loop; longer ones through a subarray view.
 * A view is an allocation, and a response has a few dozen escapes (newlines, quotes): with views
 * for short runs the young generation filled, and was scavenged, while a row group's decoded
 * values were alive and copied at every scavenge.
 */
const COPY_LOOP_MAX = 512;

/** Texts shorter than this are scanned byte by byte (setting up the word view costs more). */
const WORDS_FROM = 64;

const cont = (b: number | undefined) => b !== undefined && b >= 0x80 && b <= 0xbf;

/**
 * The length of the well-formed UTF-8 sequence that starts at `i` (a byte >= 0x80), or 0 when it
 * is not one (the Unicode / WHATWG rules: no overlong forms, no surrogates, nothing past U+10FFFF).
 */
function utf8Sequence(s: Uint8Array, i: number): number {
  const c = s[i]!;
  const b1 = s[i + 1];
  if (c >= 0xc2 && c <= 0xdf) return cont(b1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return b1 !== undefined && b1 >= lo && b1 <= hi && cont(s[i + 2]) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return b1 !== undefined && b1 >= lo && b1 <= hi && cont(s[i + 2]) && cont(s[i + 3]) ? 4 : 0;
  }
  return 0;
}

/** A growable byte buffer, reused across lines (no allocation per line). */
export class ByteBuffer {
  bytes: Uint8Array;
  length = 0;
  constructor(capacity = 1 << 16) {
    this.bytes = new Uint8Array(capacity);
  }
  ensure(more: number): void {
    const need = this.length + more;
    if (need <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(need, this.bytes.length * 2));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }
  push(src: Uint8Array): void {
    this.ensure(src.length);
    this.bytes.set(src, this.length);
    this.length += src.length;
  }
  /** Appends a string known to be ASCII (ids, keys, numbers). */
  ascii(s: string): void {
    this.ensure(s.length);
    const b = this.bytes;
    let at = this.length;
    for (let i = 0; i < s.length; i++) b[at++] = s.charCodeAt(i);
    this.length = at;
  }
  /**
   * Appends `src` as a JSON string literal, `"…"`, escaped as JSON.stringify escapes it, and
   * returns true; or returns false (the buffer left as it was) when `src` is not valid UTF-8:
   * then the caller decodes it (invalid sequences become U+FFFD) and takes the string path.
   */
  jsonString(src: Uint8Array): boolean {
    // At most 6 output bytes per input byte (\u00XX) plus the quotes.
    this.ensure(src.length * 6 + 2);
    const out = this.bytes;
    let at = this.length;
    out[at++] = 0x22;
    let start = 0;
    const n = src.length;
    const base = src.byteOffset;
    const words = n >= WORDS_FROM ? wordsOf(src.buffer as ArrayBuffer) : undefined;
    let i = 0;
    // The aligned words wholly inside src: indices below wordsEnd.
    const wordsEnd = (base + n) >> 2;
    while (i < n) {
      // Four bytes at a time where aligned, in a tight loop: none of them >= 0x80, < 0x20, '"' or
      // '\\' (SWAR tests; a false alarm only sends these bytes down the byte path).
      if (words && ((base + i) & 3) === 0) {
        let j = (base + i) >> 2;
        while (j < wordsEnd) {
          const w = words[j]!;
          const q = w ^ 0x22222222;
          const b = w ^ 0x5c5c5c5c;
          if ((w | ((w - 0x20202020) & ~w) | ((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b)) & 0x80808080) break;
          j++;
        }
        i = 4 * j - base;
        if (i >= n) break;
      }
      const c = src[i]!;
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c && c < 0x80) {
        i++;
        continue;
      }
      if (c >= 0x80) {
        const len = utf8Sequence(src, i);
        if (len === 0) return false;
        i += len;
        continue;
      }
      if (i - start > COPY_LOOP_MAX) out.set(src.subarray(start, i), at);
      else for (let k = start; k < i; k++) out[at + k - start] = src[k]!;
      at += i - start;
      const e = ESCAPES[c]!;
      for (let k = 0; k < e.length; k++) out[at++] = e[k]!;
      i++;
      start = i;
    }
    if (n - start > COPY_LOOP_MAX) out.set(src.subarray(start, n), at);
    else for (let k = start; k < n; k++) out[at + k - start] = src[k]!;
    at += n - start;
    out[at++] = 0x22;
    this.length = at;
    return true;
  }
  /** The bytes written so far, copied out. */
  take(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
  clear(): void {
    this.length = 0;
  }
}
