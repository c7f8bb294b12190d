/**
 * The one reader of a built counterfactual dataset directory (see build.ts for what it holds).
 * Every consumer (evaluations, fine-tuning export and `rs`, the template preview, the extension's
 * Synthetic Users tree and triple webview, the CLI) reads through it and gets the hydrated shapes
 * of types.ts: a Pair or a HistoryEntry with its texts, whatever the format on disk.
 *
 * Format 2 (what the build writes): train texts are stored once, in train.jsonl; pairs and
 * histories name them by id; the `.idx` files (line-index.ts) give the byte offset of every line
 * of triples.jsonl, train.jsonl and users.jsonl, so one user, one triple or one pair costs a few reads whatever the
 * dataset's size. Format 1 (texts copied into pairs.jsonl and users.jsonl, no index) is still read:
 * streams as they are, random access through offsets found by one scan on first use.
 */
import { createReadStream } from "node:fs";
import { open, readFile, type FileHandle } from "node:fs/promises";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { parsePairId } from "./ids.js";
import { DataError, type Dimension } from "./schema.js";
import { ScannedLineIndex, SortedLineIndex, type LineLookup, type LineRange } from "./line-index.js";
import {
  DATASET_FILES,
  FORMAT_VERSION,
  type HistoryEntry,
  type HistoryRef,
  type Manifest,
  type Pair,
  type PairRef,
  type StoredUser,
  type SyntheticUser,
  type TrainTriple,
  type Triple,
  type UserSummary,
} from "./types.js";

/** Yields the non-blank lines of a file with their 1-based line numbers and byte offsets. */
export async function* jsonlLines(file: string): AsyncGenerator<{ text: string; line: number; offset: number; length: number }> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let offset = 0; // file offset of the first pending byte
  let line = 0;
  const emit = (buf: Buffer) => {
    line++;
    const at = offset;
    offset += buf.length + 1;
    return { text: buf.toString("utf8"), line, offset: at, length: buf.length };
  };
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      const l = emit(pendingLen ? Buffer.concat([...pending, piece]) : piece);
      pending = [];
      pendingLen = 0;
      start = nl + 1;
      if (l.text.trim()) yield l;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingLen += chunk.length - start;
    }
  }
  if (pendingLen) {
    const l = emit(Buffer.concat(pending));
    if (l.text.trim()) yield l;
  }
}

function parseLine<T>(file: string, line: number | undefined, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new DataError(line === undefined ? { file } : { file, line }, `invalid JSON (${(e as Error).message})`);
  }
}

async function* readJsonlFile<T>(file: string): AsyncGenerator<T> {
  for await (const { text, line } of jsonlLines(file)) yield parseLine<T>(file, line, text);
}

async function readRangesOf(fh: FileHandle, ranges: LineRange[]): Promise<string[]> {
  const out: string[] = [];
  for (const { offset: at, length: len } of ranges) {
    const buf = Buffer.allocUnsafe(len);
    const { bytesRead } = await fh.read(buf, 0, len, at);
    out.push(buf.toString("utf8", 0, bytesRead));
  }
  return out;
}

/** A bounded cache (insertion order = recency). */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}

/** The pair `chosen`v`rejected` of a train triple, with its texts. */
export function pairOf(t: TrainTriple, chosen: number, rejected: number): Pair {
  const c = t.members[chosen]!;
  const r = t.members[rejected]!;
  return {
    id: `${t.id}.${chosen}v${rejected}`,
    prompt: t.prompt,
    chosen: c.response,
    rejected: r.response,
    chosenPreferenceSet: c.preference_set,
    rejectedPreferenceSet: r.preference_set,
    tripleId: t.id,
    chosenMember: chosen,
    rejectedMember: rejected,
  };
}

/** A history entry with its texts: the pair and the chosen side's preference on `dimension`. */
export function historyEntryOf(p: Pair, dimension: Dimension, score: number): HistoryEntry {
  const pe = p.chosenPreferenceSet.find((e) => e.dimension === dimension);
  if (!pe) throw new Error(`pair ${p.id}: the chosen side has no preference on ${dimension}`);
  return {
    pairId: p.id,
    prompt: p.prompt,
    chosen: p.chosen,
    rejected: p.rejected,
    preference: { subdimension: pe.subdimension, preference: pe.preference, description: pe.description },
    score,
  };
}

const summaryOf = (u: Omit<SyntheticUser, "history"> & { history: { score: number }[] }): UserSummary => ({
  id: u.id,
  tripleId: u.tripleId,
  member: u.member,
  dimension: u.dimension,
  preference: u.preference,
  historySize: u.history.length,
  meanScore: u.history.length ? u.history.reduce((s, h) => s + h.score, 0) / u.history.length : 0,
});

export class Dataset {
  private index?: Promise<{ triples: LineLookup; train?: LineLookup; users: LineLookup }>;
  private v1Pairs?: Promise<LineLookup>;
  private readonly trainCache = new Lru<TrainTriple>(1024);
  /** With `keepOpen`: one handle per file, kept until close(). */
  private handles?: Map<string, Promise<FileHandle>>;

  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    /** sha256 of manifest.json: the dataset's identity in run provenance. */
    readonly manifestHash: string,
  ) {}

  /** The format on disk: 2 (texts once, indexed) or 1 (texts copied into pairs and histories). */
  get format(): 1 | 2 {
    return this.manifest.version;
  }

  private file(name: keyof typeof DATASET_FILES): string {
    return path.join(this.dir, DATASET_FILES[name]);
  }

  /**
   * Reads the manifest. With `keepOpen`, random reads share one file handle per file until
   * `close()` (for a caller that reads many pairs, e.g. an export); otherwise each read opens and
   * closes its file, so a dataset object can be dropped without closing it.
   */
  static async open(dir: string, opts: { keepOpen?: boolean } = {}): Promise<Dataset> {
    const file = path.join(dir, DATASET_FILES.manifest);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      throw new DataError({ file }, "not a Preflab dataset directory (manifest.json not found); build one with `preflab build`");
    }
    let manifest: Manifest;
    try {
      manifest = JSON.parse(text) as Manifest;
    } catch (e) {
      throw new DataError({ file }, `invalid JSON (${(e as Error).message})`);
    }
    const v = (manifest as { version?: unknown }).version;
    if (v !== 1 && v !== FORMAT_VERSION) {
      throw new DataError(
        { file },
        `dataset format version ${JSON.stringify(v)} is not one this Preflab reads (1 or ${FORMAT_VERSION}); rebuild the dataset from its MultiFacet files with \`preflab build --train … --test … --out ${dir} --force\``,
        "version",
      );
    }
    const ds = new Dataset(dir, manifest, createHash("sha256").update(text).digest("hex"));
    if (opts.keepOpen) ds.handles = new Map();
    return ds;
  }

  private async readRanges(file: string, ranges: LineRange[]): Promise<string[]> {
    if (ranges.length === 0) return [];
    if (this.handles) {
      let fh = this.handles.get(file);
      if (!fh) {
        fh = open(file, "r");
        this.handles.set(file, fh);
        fh.catch(() => this.handles?.delete(file));
      }
      return readRangesOf(await fh, ranges);
    }
    const fh = await open(file, "r");
    try {
      return await readRangesOf(fh, ranges);
    } finally {
      await fh.close();
    }
  }

  /** Closes the file handles kept with `keepOpen` (a later read opens them again). */
  async close(): Promise<void> {
    const handles = [...(this.handles?.values() ?? [])];
    this.handles?.clear();
    for (const h of handles) await (await h.catch(() => undefined))?.close();
  }

  // ---- Line indexes: index.json (format 2) or one scan per file on first use (format 1).

  private lineIndexes(): Promise<{ triples: LineLookup; train?: LineLookup; users: LineLookup }> {
    this.index ??= (async () => {
      if (this.format === 2) {
        const load = async (name: "triplesIndex" | "trainIndex" | "usersIndex") => {
          const file = this.file(name);
          try {
            return await SortedLineIndex.load(file);
          } catch (e) {
            const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "is missing" : (e as Error).message;
            throw new DataError({ file }, `the line index ${why}; rebuild the dataset with \`preflab build … --force\``);
          }
        };
        const [triples, train, users] = await Promise.all([load("triplesIndex"), load("trainIndex"), load("usersIndex")]);
        return { triples, train, users };
      }
      const scan = async (file: string) => {
        const lines: LineRange[] = [];
        for await (const { text, line, offset, length } of jsonlLines(file)) lines.push({ id: parseLine<{ id: string }>(file, line, text).id, offset, length });
        return new ScannedLineIndex(lines);
      };
      return { triples: await scan(this.file("triples")), users: await scan(this.file("users")) };
    })();
    this.index.catch(() => (this.index = undefined));
    return this.index;
  }

  private async readById<T>(name: "triples" | "train" | "users" | "pairs", li: LineLookup, id: string): Promise<T | undefined> {
    const r = li.range(id);
    if (!r) return undefined;
    const file = this.file(name);
    const [text] = await this.readRanges(file, [r]);
    const v = parseLine<T & { id?: string }>(file, undefined, text!);
    if (v.id !== id) throw new DataError({ file }, `the line at byte ${r.offset} is not ${id}; the index is stale: rebuild the dataset with \`preflab build … --force\``);
    return v;
  }

  // ---- Test triples.

  triples(): AsyncGenerator<Triple> {
    return readJsonlFile<Triple>(this.file("triples"));
  }

  async triple(id: string): Promise<Triple | undefined> {
    return this.readById<Triple>("triples", (await this.lineIndexes()).triples, id);
  }

  /** Test triple ids in dataset order. */
  async tripleIds(): Promise<string[]> {
    return (await this.lineIndexes()).triples.all().map((l) => l.id);
  }

  // ---- Train triples and pairs.

  /** Train triples in dataset order (format 1: rebuilt from the pairs). */
  async *trainTriples(): AsyncGenerator<TrainTriple> {
    if (this.format === 2) {
      yield* readJsonlFile<TrainTriple>(this.file("train"));
      return;
    }
    const file = this.file("pairs");
    let group: { pair: Pair; line: number }[] = [];
    const flush = (): TrainTriple => {
      const first = group[0]!;
      const members: (TrainTriple["members"][number] | undefined)[] = [undefined, undefined, undefined];
      for (const { pair } of group) {
        members[pair.chosenMember] ??= { preference_set: pair.chosenPreferenceSet, response: pair.chosen };
        members[pair.rejectedMember] ??= { preference_set: pair.rejectedPreferenceSet, response: pair.rejected };
      }
      const missing = members.findIndex((m) => m === undefined);
      if (missing >= 0) throw new DataError({ file, line: first.line }, `triple ${first.pair.tripleId}: no pair names member ${missing}, so its preferences are unknown`);
      group = [];
      return { id: first.pair.tripleId, prompt: first.pair.prompt, members: members as TrainTriple["members"] };
    };
    for await (const { text, line } of jsonlLines(file)) {
      const pair = parseLine<Pair>(file, line, text);
      if (group.length && group[0]!.pair.tripleId !== pair.tripleId) yield flush();
      group.push({ pair, line });
    }
    if (group.length) yield flush();
  }

  /** Pairs by id and member, in dataset order (grouped by train triple), without texts. */
  async *pairRefs(): AsyncGenerator<PairRef & { line: number }> {
    const file = this.file("pairs");
    for await (const { text, line } of jsonlLines(file)) {
      const p = parseLine<PairRef>(file, line, text);
      if (typeof p.id !== "string" || typeof p.tripleId !== "string" || ![0, 1, 2].includes(p.chosenMember) || ![0, 1, 2].includes(p.rejectedMember) || p.chosenMember === p.rejectedMember) {
        throw new DataError({ file, line }, "not a Preflab pair (id, tripleId, chosenMember and rejectedMember 0, 1 or 2)");
      }
      yield { id: p.id, tripleId: p.tripleId, chosenMember: p.chosenMember, rejectedMember: p.rejectedMember, line };
    }
  }

  /** One train triple with its texts. */
  async trainTriple(id: string): Promise<TrainTriple | undefined> {
    const hit = this.trainCache.get(id);
    if (hit) return hit;
    let t: TrainTriple | undefined;
    if (this.format === 2) {
      t = await this.readById<TrainTriple>("train", (await this.lineIndexes()).train!, id);
    } else {
      // Format 1: the triple's pairs hold its members.
      const li = await this.v1PairIndex();
      const members: (TrainTriple["members"][number] | undefined)[] = [undefined, undefined, undefined];
      let prompt = "";
      for (const c of [0, 1, 2])
        for (const r of [0, 1, 2]) {
          const p = c === r ? undefined : await this.readById<Pair>("pairs", li, `${id}.${c}v${r}`);
          if (!p) continue;
          prompt = p.prompt;
          members[c] ??= { preference_set: p.chosenPreferenceSet, response: p.chosen };
          members[r] ??= { preference_set: p.rejectedPreferenceSet, response: p.rejected };
        }
      if (members.every((m) => m)) t = { id, prompt, members: members as TrainTriple["members"] };
    }
    if (t) this.trainCache.set(id, t);
    return t;
  }

  private v1PairIndex(): Promise<LineLookup> {
    this.v1Pairs ??= (async () => {
      const file = this.file("pairs");
      const lines: LineRange[] = [];
      const ID = /^\{"id":("(?:[^"\\]|\\.)*")/;
      for await (const { text, line, offset, length } of jsonlLines(file)) {
        const m = ID.exec(text);
        lines.push({ id: m ? (JSON.parse(m[1]!) as string) : parseLine<{ id: string }>(file, line, text).id, offset, length });
      }
      return new ScannedLineIndex(lines);
    })();
    this.v1Pairs.catch(() => (this.v1Pairs = undefined));
    return this.v1Pairs;
  }

  /** One train pair with its texts (any two distinct members of a train triple). */
  async pair(id: string): Promise<Pair | undefined> {
    const ref = parsePairId(id);
    if (!ref || ref.chosen === ref.rejected) return undefined;
    const t = await this.trainTriple(ref.tripleId);
    return t ? pairOf(t, ref.chosen, ref.rejected) : undefined;
  }

  /** Every train pair with its texts, in dataset order. */
  async *pairs(): AsyncGenerator<Pair> {
    if (this.format === 1) {
      yield* readJsonlFile<Pair>(this.file("pairs"));
      return;
    }
    const train = this.trainTriples();
    let t: TrainTriple | undefined;
    try {
      for await (const ref of this.pairRefs()) {
        while (!t || t.id !== ref.tripleId) {
          const next = await train.next();
          if (next.done) throw new DataError({ file: this.file("pairs"), line: ref.line }, `pair ${ref.id}: triple ${ref.tripleId} is not in train.jsonl (in order)`);
          t = next.value;
        }
        yield pairOf(t, ref.chosenMember, ref.rejectedMember);
      }
    } finally {
      await train.return(undefined);
    }
  }

  // ---- Users.

  private async hydrate(u: StoredUser | SyntheticUser): Promise<SyntheticUser> {
    if (this.format === 1) return u as SyntheticUser;
    const history: HistoryEntry[] = [];
    for (const h of u.history as HistoryRef[]) {
      const p = await this.pair(h.pairId);
      if (!p) throw new DataError({ file: this.file("users") }, `user ${u.id}: history pair ${h.pairId} is not in train.jsonl`);
      history.push(historyEntryOf(p, u.dimension, h.score));
    }
    return { id: u.id, tripleId: u.tripleId, member: u.member, dimension: u.dimension, preference: u.preference, history };
  }

  /** Every synthetic user with its history texts, in dataset order. */
  async *users(): AsyncGenerator<SyntheticUser> {
    for await (const u of readJsonlFile<StoredUser | SyntheticUser>(this.file("users"))) yield await this.hydrate(u);
  }

  /** Every user without history texts (reads users.jsonl only). */
  async userSummaries(): Promise<UserSummary[]> {
    const out: UserSummary[] = [];
    for await (const u of readJsonlFile<StoredUser>(this.file("users"))) out.push(summaryOf(u));
    return out;
  }

  /** One user with its history texts. */
  async user(id: string): Promise<SyntheticUser | undefined> {
    const u = await this.readById<StoredUser | SyntheticUser>("users", (await this.lineIndexes()).users, id);
    return u && this.hydrate(u);
  }

  /** The users of one test triple, with their history texts, in dataset order. */
  async usersOfTriple(tripleId: string): Promise<SyntheticUser[]> {
    const file = this.file("users");
    const texts = await this.readRanges(file, (await this.lineIndexes()).users.withPrefix(`${tripleId}.`));
    const users: SyntheticUser[] = [];
    for (const t of texts) {
      const u = parseLine<StoredUser | SyntheticUser>(file, undefined, t);
      if (u.tripleId === tripleId) users.push(await this.hydrate(u));
    }
    return users;
  }
}
