/**
 * The extension at scale in a real VS Code (issue 14): a dataset built from a generated corpus of
 * 20% of the full MultiFacet train split (13,134 instructions, 39,402 rows, real text sizes) and
 * the full test split (921 rows: 3,684 synthetic users), next to the bundled sample. For each, as
 * a user would: open it, let the Synthetic Users tree list its users, expand a user's history,
 * open the first triple, search all test triples. The extension logs its own part of each step
 * (from the request to the data handed to the tree or posted to the webview); this test reads
 * those lines and the extension host's peak memory (VmHWM) and prints them side by side.
 * Budgets (issue 14): tree data <= 1 s, history <= 200 ms, triple <= 300 ms, search <= 300 ms,
 * host memory <= 100 MiB above the sample. They are asserted with 3x headroom, as this suite
 * shares a loaded 2-core machine; `npm run bench` measures them at full scale.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import type { Frame } from "playwright-core";
import { buildDataset } from "../../src/core/data/builder.ts";
import { ensureCorpus } from "../../scripts/lib/bench-corpus.ts";
import { loadEnv, ROOT, Session } from "./harness.ts";

const HEADROOM = 3;
let s: Session;
let sampleDir: string;
let scaleDir: string;
const figures: Record<string, Record<string, number>> = {};

before(async () => {
  s = new Session(loadEnv(), { name: "scale" });
  const t0 = Date.now();
  const corpus = await ensureCorpus(path.join(ROOT, ".bench", "corpus-e2e-20pct"), { trainTriples: 13_134, testTriples: 307, shards: 1 }, (m) => process.stderr.write(`[e2e] ${m}\n`));
  const datasets = path.join(s.workspace, ".preflab", "datasets");
  sampleDir = path.join(datasets, "sample");
  scaleDir = path.join(datasets, "scale");
  await buildDataset({ train: path.join(ROOT, "samples", "train.jsonl"), test: path.join(ROOT, "samples", "test.jsonl"), out: sampleDir });
  await buildDataset({ train: corpus.train, test: corpus.test, out: scaleDir });
  process.stderr.write(`[e2e] scale datasets ready in ${Date.now() - t0} ms\n`);
  await s.start();
});

after(async () => {
  if (s) {
    await s.screenshot("final").catch(() => undefined);
    await s.stop();
  }
});

/** Peak resident memory (VmHWM, MiB) of the extension host: the process code-server forked with --type=extensionHost. */
function extensionHostPeakMiB(): number {
  const peaks: number[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmd.includes("--type=extensionHost")) continue;
      const env = readFileSync(`/proc/${pid}/environ`, "utf8");
      if (!env.split("\0").includes(`HOME=${s.home}`)) continue;
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) peaks.push(Number(m[1]) / 1024);
    } catch {
      /* gone, or not ours */
    }
  }
  assert.equal(peaks.length, 1, "one extension host of this session");
  return peaks[0]!;
}

/** Waits for a new log line matching `re` (after `from` characters of the log) and returns its match. */
async function logLine(re: RegExp, from: number, timeout = 60_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const log = (await s.readLog()).slice(from);
    const m = re.exec(log);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no log line ${re} in:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function openDataset(dir: string): Promise<void> {
  await s.palette("Preflab: Open Dataset");
  const input = s.page.locator(".quick-input-widget .quick-input-box input");
  await input.waitFor({ state: "visible", timeout: 30_000 });
  // The simple dialog fills in its start folder just after it shows: a path typed before that is
  // joined to it. Type again until the field holds exactly the path (checked after a pause).
  for (let i = 0; ; i++) {
    await input.fill(dir);
    await new Promise((r) => setTimeout(r, 300));
    if ((await input.inputValue()) === dir) break;
    if (i >= 10) throw new Error(`the folder dialog holds ${await input.inputValue()}, not ${dir}`);
  }
  await input.press("Enter");
  // The simple dialog may first navigate into the folder: then accept the folder it shows.
  for (let i = 0; i < 20 && (await input.isVisible()); i++) {
    await new Promise((r) => setTimeout(r, 250));
    if ((await input.isVisible()) && (await input.inputValue()).replace(/\/$/, "") === dir) await input.press("Enter");
  }
}

const hasText = (text: string) => async (f: Frame) => (await f.locator("#app").count()) > 0 && (await f.locator("#app").innerText()).includes(text);

async function measure(label: string, dir: string, users: number): Promise<void> {
  const from = (await s.readLog()).length;
  await openDataset(dir);
  const tree = await logLine(new RegExp(`users tree: ${users} users ready in (\\d+) ms`), from);
  const view = s.view("Synthetic Users");
  const style = view.locator(".monaco-list-row[aria-level='1']", { hasText: "Style" }).first();
  await style.waitFor({ timeout: 30_000 });
  if ((await style.getAttribute("aria-expanded")) !== "true") await style.click();
  // This dataset's first style user (the tree may still show the previous dataset's rows for a moment).
  const first = readFileSync(path.join(dir, "users.jsonl"), "utf8")
    .split("\n")
    .map((l) => (l ? (JSON.parse(l) as { id: string; tripleId: string; dimension: string; member: number }) : undefined))
    .find((u) => u?.dimension === "style")!;
  const user = view.locator(".monaco-list-row[aria-level='2']", { hasText: `member ${first.member} · ${first.tripleId}` }).first();
  await user.waitFor({ timeout: 30_000 });
  let history: RegExpExecArray | undefined;
  for (let attempt = 0; !history; attempt++) {
    await user.locator(".monaco-tl-twistie").click();
    history = await logLine(/users tree: history of \S+ \(\d+ pairs\) in (\d+) ms/, from, 10_000).catch((e: unknown) => {
      if (attempt >= 2) throw e;
      return undefined;
    });
  }
  await view.locator(".monaco-list-row[aria-level='3']").first().waitFor({ timeout: 30_000 });
  // The first triple: the user's, opened from the tree.
  await user.locator(".label-name").click();
  const triple = await logLine(/triple (te-\w+) loaded in (\d+) ms/, from);
  const frame = await s.webviewFrame(hasText("Member 3"), 60_000);
  // Search every test triple's instruction.
  const field = frame.locator("#search");
  await field.click();
  await s.page.keyboard.type("energy");
  await s.page.keyboard.press("Enter");
  const search = await logLine(/triple search: (\d+) hits in (\d+) ms/, from);
  await s.screenshot(`${label}-triple`);
  figures[label] = {
    usersTreeMs: Number(tree[1]),
    historyMs: Number(history[1]),
    tripleMs: Number(triple[2]),
    searchMs: Number(search[2]),
    searchHits: Number(search[1]),
    hostPeakMiB: Math.round(extensionHostPeakMiB()),
  };
  await s.palette("View: Close All Editors");
}

test("the extension's own timings and memory on a 20% scale dataset, beside the sample", { timeout: 150_000 }, async () => {
  await s.openPreflab();
  assert.ok(existsSync(path.join(scaleDir, "train.idx")));
  await measure("sample", sampleDir, 156);
  await measure("scale", scaleDir, 3684);
  const rows = Object.keys(figures.sample!).map((k) => `${k.padEnd(13)} ${String(figures.sample![k]).padStart(7)} ${String(figures.scale![k]).padStart(7)}`);
  process.stderr.write(`[e2e] SCALE (sample vs 20% of full scale):\n              sample   scale\n${rows.join("\n")}\n`);
  const f = figures.scale!;
  assert.ok(f.searchHits! > 0, "the search finds instructions");
  assert.ok(f.usersTreeMs! <= 1000 * HEADROOM, `users tree data in ${f.usersTreeMs} ms (budget 1 s)`);
  assert.ok(f.historyMs! <= 200 * HEADROOM, `a user's history in ${f.historyMs} ms (budget 200 ms)`);
  assert.ok(f.tripleMs! <= 300 * HEADROOM, `first triple in ${f.tripleMs} ms (budget 300 ms)`);
  assert.ok(f.searchMs! <= 300 * HEADROOM, `search in ${f.searchMs} ms (budget 300 ms)`);
  assert.ok(f.hostPeakMiB! - figures.sample!.hostPeakMiB! <= 100 * HEADROOM, `extension host peak ${f.hostPeakMiB} MiB vs ${figures.sample!.hostPeakMiB} MiB on the sample (budget +100 MiB)`);
});
