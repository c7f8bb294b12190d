/**
 * The o200k_base pre-tokenizer (tiktoken's regex, which splits a text into the pieces that BPE
 * encodes one by one) for pure-ASCII text, by character code instead of the Unicode-property
 * regex, which is most of js-tiktoken's time. On ASCII the pattern's classes reduce to: letters
 * A-Z (upper) and a-z (lower), digits 0-9, whitespace \t \n \v \f \r and space, and everything
 * else. Alternatives, tried in order at each position (as the regex does, backtracking included):
 *   1. an optional char that is not CR, LF, a letter or a digit; uppercase*; lowercase+; a contraction
 *   2. the same optional char; uppercase+; lowercase*; a contraction
 *   3. 1-3 digits
 *   4. an optional space; 1+ chars that are not whitespace, letters or digits; then CR, LF or "/"*
 *   5. whitespace up to and including the last CR / LF of the whitespace run
 *   6. a whitespace run less its last char when a non-space follows (all of it at the end)
 *   7. a whitespace run
 * Checked against the regex on random texts by test/unit/tokens.test.ts. Returns undefined for a
 * text with any non-ASCII character (the caller uses the regex).
 */

const UPPER = 1;
const LOWER = 2;
const DIGIT = 4;
const SPACE = 8; // \s
const CRLF = 16;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if (c >= 65 && c <= 90) CLASS[c] = UPPER;
  else if (c >= 97 && c <= 122) CLASS[c] = LOWER;
  else if (c >= 48 && c <= 57) CLASS[c] = DIGIT;
  else if (c === 10 || c === 13) CLASS[c] = SPACE | CRLF;
  else if (c === 9 || c === 11 || c === 12 || c === 32) CLASS[c] = SPACE;
}
const LETTER = UPPER | LOWER;

/** Length of a contraction ('s 't 're 've 'm 'll 'd, any case) at i, else 0. */
function contraction(t: string, i: number): number {
  if (t.charCodeAt(i) !== 39) return 0;
  const a = t.charCodeAt(i + 1) | 32; // lower-cased (NaN | 32 = 32 at the end)
  if (a === 115 || a === 116 || a === 109 || a === 100) return 2; // s t m d
  const b = t.charCodeAt(i + 2) | 32;
  if ((a === 114 && b === 101) || (a === 118 && b === 101) || (a === 108 && b === 108)) return 3; // re ve ll
  return 0;
}

/** The end of the piece starting at i (see the file comment). */
function pieceEnd(t: string, i: number, n: number): number {
  const c0 = CLASS[t.charCodeAt(i)]!;
  // 1 and 2: the optional leading char is anything but CR, LF, a letter or a digit.
  const j = c0 & (LETTER | DIGIT | CRLF) ? i : i + 1;
  let k = j;
  while (k < n && CLASS[t.charCodeAt(k)]! & UPPER) k++;
  if (k < n && CLASS[t.charCodeAt(k)]! & LOWER) {
    while (k < n && CLASS[t.charCodeAt(k)]! & LOWER) k++;
    return k + contraction(t, k);
  }
  if (k > j) return k + contraction(t, k);
  if (c0 & DIGIT) {
    let d = i + 1;
    while (d < n && d < i + 3 && CLASS[t.charCodeAt(d)]! & DIGIT) d++;
    return d;
  }
  // 4: an optional space, then other chars, then CR / LF / "/".
  const s = t.charCodeAt(i) === 32 ? i + 1 : i;
  let o = s;
  while (o < n && CLASS[t.charCodeAt(o)]! === 0) o++;
  if (o > s) {
    while (o < n) {
      const c = t.charCodeAt(o);
      if (c === 10 || c === 13 || c === 47) o++;
      else break;
    }
    return o;
  }
  // 5-7: a whitespace run [i, e).
  let e = i;
  let lastNl = -1;
  while (e < n && CLASS[t.charCodeAt(e)]! & SPACE) {
    if (CLASS[t.charCodeAt(e)]! & CRLF) lastNl = e;
    e++;
  }
  if (lastNl >= 0) return lastNl + 1;
  if (e === n || e - 1 === i) return e;
  return e - 1;
}

/** The o200k_base pieces of an ASCII text, or undefined when it has a non-ASCII character. */
export function o200kAsciiPieces(text: string): string[] | undefined {
  const n = text.length;
  for (let i = 0; i < n; i++) if (text.charCodeAt(i) > 127) return undefined;
  const out: string[] = [];
  let i = 0;
  while (i < n) {
    const e = pieceEnd(text, i, n);
    out.push(text.slice(i, e));
    i = e;
  }
  return out;
}
