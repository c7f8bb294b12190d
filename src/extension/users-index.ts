/**
 * A light index over a dataset's users.jsonl for the Synthetic Users tree: one streaming pass
 * keeps, per user, only what the tree shows (dimension, preference, member, triple, history
 * length) and the byte range of its line; a user's feedback history (the long texts) is read back
 * by offset only when its node is expanded or a pair is opened. Pure Node, no vscode.
 */
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import * as path from "node:path";
import type { Dimension } from "../core/data/schema.js";
import { DIMENSION_ORDER } from "../protocol/webview.js";
import type { HistoryEntry, SyntheticUser, UserPreference } from "../core/data/types.js";

/** The four MultiFacet dimensions, in the paper's order (the protocol's list, checked against the core's by a unit test). */
export const DIMENSION_LIST: readonly Dimension[] = DIMENSION_ORDER;

export const DIMENSION_LABEL: Record<Dimension, string> = {
  style: "Style",
  background_knowledge: "Background knowledge",
  informativeness: "Informativeness",
  harmlessness: "Harmlessness",
};

export interface UserSummary {
  id: string;
  tripleId: string;
  member: number;
  dimension: Dimension;
  preference: UserPreference;
  historySize: number;
  /** Byte offset and length of the user's line in users.jsonl. */
  offset: number;
  length: number;
}

export class UsersIndex {
  private readonly byId = new Map<string, UserSummary>();
  private readonly byDimension = new Map<Dimension, UserSummary[]>();

  private constructor(
    readonly file: string,
    readonly mtimeMs: number,
    users: UserSummary[],
  ) {
    for (const u of users) {
      this.byId.set(u.id, u);
      const list = this.byDimension.get(u.dimension) ?? [];
      list.push(u);
      this.byDimension.set(u.dimension, list);
    }
  }

  static async load(datasetDir: string): Promise<UsersIndex> {
    const file = path.join(datasetDir, "users.jsonl");
    const st = await stat(file);
    const users: UserSummary[] = [];
    let offset = 0;
    let lineNo = 0;
    let carry: Buffer = Buffer.alloc(0);
    const handle = (line: Buffer, at: number) => {
      lineNo++;
      const text = line.toString("utf8");
      if (!text.trim()) return;
      let u: SyntheticUser;
      try {
        u = JSON.parse(text) as SyntheticUser;
      } catch (e) {
        throw new Error(`${file}:${lineNo}: invalid JSON (${(e as Error).message})`);
      }
      users.push({
        id: u.id,
        tripleId: u.tripleId,
        member: u.member,
        dimension: u.dimension,
        preference: u.preference,
        historySize: u.history.length,
        offset: at,
        length: line.length,
      });
    };
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      let buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(10, start);
        if (nl < 0) break;
        handle(buf.subarray(start, nl), offset + start);
        start = nl + 1;
      }
      offset += start;
      buf = buf.subarray(start);
      carry = Buffer.from(buf);
    }
    if (carry.length) handle(carry, offset);
    return new UsersIndex(file, st.mtimeMs, users);
  }

  get size(): number {
    return this.byId.size;
  }

  dimensions(): Dimension[] {
    return DIMENSION_LIST.filter((d) => this.byDimension.has(d));
  }

  usersOf(d: Dimension): readonly UserSummary[] {
    return this.byDimension.get(d) ?? [];
  }

  summary(userId: string): UserSummary | undefined {
    return this.byId.get(userId);
  }

  /** The whole user (with its history), read from its line. */
  async user(userId: string): Promise<SyntheticUser | undefined> {
    const s = this.byId.get(userId);
    if (!s) return undefined;
    const fh = await open(this.file, "r");
    try {
      const buf = Buffer.alloc(s.length);
      await fh.read(buf, 0, s.length, s.offset);
      return JSON.parse(buf.toString("utf8")) as SyntheticUser;
    } finally {
      await fh.close();
    }
  }

  async historyEntry(userId: string, index: number): Promise<{ user: SyntheticUser; entry: HistoryEntry } | undefined> {
    const user = await this.user(userId);
    const entry = user?.history[index];
    return user && entry ? { user, entry } : undefined;
  }
}

/** One line for a user in the tree: "subdimension · preference". */
export function userLabel(u: Pick<UserSummary, "preference">): string {
  return `${u.preference.subdimension} · ${u.preference.preference}`;
}

/** Shortens text to one line of at most `max` characters. */
export function oneLine(text: string, max = 80): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/**
 * The read-only document for one feedback pair: its instruction, the liked and not-liked
 * responses, and the similarity score. Markdown; the responses are quoted as they are (the
 * document is plain text in an editor, never rendered as HTML by Preflab).
 */
export function renderPairDocument(user: SyntheticUser, index: number): string {
  const e = user.history[index];
  if (!e) return `No feedback pair ${index + 1} for user ${user.id}.\n`;
  const fence = (text: string) => {
    let f = "````";
    while (text.includes(f)) f += "`";
    return `${f}text\n${text}\n${f}`;
  };
  return [
    `# Feedback pair ${index + 1} of ${user.history.length}`,
    "",
    `- User: \`${user.id}\` (${DIMENSION_LABEL[user.dimension]}: ${userLabel(user)})`,
    `- Pair: \`${e.pairId}\``,
    `- Similarity score: ${e.score.toFixed(3)} (TF-IDF cosine of the liked side's preference to the user's)`,
    `- Liked side's preference: ${e.preference.subdimension} · ${e.preference.preference} — ${e.preference.description}`,
    "",
    "## Instruction",
    "",
    fence(e.prompt),
    "",
    "## Liked response (chosen)",
    "",
    fence(e.chosen),
    "",
    "## Not-liked response (rejected)",
    "",
    fence(e.rejected),
    "",
  ].join("\n");
}
