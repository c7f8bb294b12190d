/**
 * The synthetic users of a dataset as lists and trees show them: every user's summary (dimension,
 * preference, member, triple, history length) from one read of users.jsonl, and one user's
 * history texts read through the dataset reader on demand. Host-neutral: the extension's
 * Synthetic Users tree and the language server's template preview both hold one.
 */
import { stat } from "node:fs/promises";
import * as path from "node:path";
import { Dataset } from "./dataset.js";
import { DIMENSIONS, type Dimension } from "./schema.js";
import { DATASET_FILES, type HistoryEntry, type SyntheticUser, type UserSummary } from "./types.js";

export class UsersIndex {
  private readonly byId = new Map<string, UserSummary>();
  private readonly byDimension = new Map<Dimension, UserSummary[]>();

  private constructor(
    readonly dataset: Dataset,
    readonly all: readonly UserSummary[],
  ) {
    for (const u of all) {
      this.byId.set(u.id, u);
      const list = this.byDimension.get(u.dimension) ?? [];
      list.push(u);
      this.byDimension.set(u.dimension, list);
    }
  }

  static async load(datasetDir: string): Promise<UsersIndex> {
    const dataset = await Dataset.open(datasetDir);
    return new UsersIndex(dataset, await dataset.userSummaries());
  }

  get dir(): string {
    return this.dataset.dir;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Dimensions that have users, in the paper's order. */
  dimensions(): Dimension[] {
    return DIMENSIONS.filter((d) => this.byDimension.has(d));
  }

  usersOf(d: Dimension): readonly UserSummary[] {
    return this.byDimension.get(d) ?? [];
  }

  summary(userId: string): UserSummary | undefined {
    return this.byId.get(userId);
  }

  /** The whole user, with its history texts. */
  async user(userId: string): Promise<SyntheticUser | undefined> {
    return this.byId.has(userId) ? this.dataset.user(userId) : undefined;
  }

  async historyEntry(userId: string, index: number): Promise<{ user: SyntheticUser; entry: HistoryEntry } | undefined> {
    const user = await this.user(userId);
    const entry = user?.history[index];
    return user && entry ? { user, entry } : undefined;
  }
}

/** The files whose change means a dataset folder was rebuilt. */
async function datasetKey(dir: string): Promise<string> {
  const times = await Promise.all(
    [DATASET_FILES.manifest, DATASET_FILES.users].map(async (f) => {
      try {
        return (await stat(path.join(dir, f))).mtimeMs;
      } catch {
        return -1;
      }
    }),
  );
  return times.join(":");
}

/** One UsersIndex per dataset folder, loaded on first use and again when the folder was rebuilt. */
export class UsersIndexCache {
  private readonly entries = new Map<string, { key: string; index: Promise<UsersIndex> }>();

  constructor(private readonly max = 4) {}

  async get(datasetDir: string): Promise<UsersIndex> {
    const dir = path.resolve(datasetDir);
    const key = await datasetKey(dir);
    let e = this.entries.get(dir);
    if (!e || e.key !== key) {
      e = { key, index: UsersIndex.load(dir) };
      this.entries.delete(dir);
      this.entries.set(dir, e);
      if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    }
    const entry = e;
    try {
      return await entry.index;
    } catch (err) {
      if (this.entries.get(dir) === entry) this.entries.delete(dir);
      throw err;
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
