/** Reading a built counterfactual dataset directory (see builder.ts for what it holds). */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { createHash } from "node:crypto";
import { DataError } from "./schema.js";
import { DATASET_FILES, type Manifest, type Pair, type SyntheticUser, type Triple } from "./types.js";

async function* readJsonlFile<T>(file: string): AsyncGenerator<T> {
  const rl = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (!text.trim()) continue;
    try {
      yield JSON.parse(text) as T;
    } catch (e) {
      throw new DataError({ file, line }, `invalid JSON (${(e as Error).message})`);
    }
  }
}

export class Dataset {
  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    /** sha256 of manifest.json: the dataset's identity in run provenance. */
    readonly manifestHash: string,
  ) {}

  static async open(dir: string): Promise<Dataset> {
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
    if (manifest.version !== 1) throw new DataError({ file }, `unsupported manifest version ${String(manifest.version)}`, "version");
    return new Dataset(dir, manifest, createHash("sha256").update(text).digest("hex"));
  }

  triples(): AsyncGenerator<Triple> {
    return readJsonlFile<Triple>(path.join(this.dir, DATASET_FILES.triples));
  }
  users(): AsyncGenerator<SyntheticUser> {
    return readJsonlFile<SyntheticUser>(path.join(this.dir, DATASET_FILES.users));
  }
  pairs(): AsyncGenerator<Pair> {
    return readJsonlFile<Pair>(path.join(this.dir, DATASET_FILES.pairs));
  }

  async triple(id: string): Promise<Triple | undefined> {
    for await (const t of this.triples()) if (t.id === id) return t;
    return undefined;
  }
}
