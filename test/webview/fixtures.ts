/**
 * Real view models for the webview tests: the bundled sample built into a dataset, evaluated by
 * the baseline reward model and a scripted "shorter wins" reward model, a scripted generation run
 * and two scripted cross judges, read back through the core (loadTripleView, buildReport,
 * compareRuns) exactly as the extension host will.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { buildDataset } from "../../src/core/data/builder.js";
import { runRm } from "../../src/core/eval/rm.js";
import { runGeneration } from "../../src/core/eval/generation.js";
import { runJudge } from "../../src/core/eval/judge.js";
import { buildReport } from "../../src/core/metrics/report.js";
import { compareRuns } from "../../src/core/metrics/compare.js";
import { createProvider } from "../../src/core/providers/registry.js";
import { hash32 } from "../../src/core/util/rng.js";
import { TripleViewLoader } from "../../src/core/views/triple-view.js";
import type { DashboardModel, TripleViewModel } from "../../src/protocol/webview.js";
import { ROOT } from "./harness.js";
import { lastMessage, scriptedProvider, testRunner } from "../helpers/eval.js";

export interface Fixtures {
  dir: string;
  ds: string;
  rm: string;
  rmShort: string;
  gen: string;
  judge: string;
  judge2: string;
  loader: TripleViewLoader;
  triple(id: string, runs?: string[]): Promise<TripleViewModel>;
  ids: string[];
  dashboard(): Promise<DashboardModel>;
  cleanup(): void;
}

const runner = testRunner;

const scripted = scriptedProvider;
const lastUser = lastMessage;

export async function buildFixtures(): Promise<Fixtures> {
  const dir = mkdtempSync(path.join(tmpdir(), "preflab-webview-"));
  const ds = path.join(dir, "ds");
  await buildDataset({ train: path.join(ROOT, "samples/train.jsonl"), test: path.join(ROOT, "samples/test.jsonl"), out: ds });
  const rm = path.join(dir, "rm-baseline");
  const rmShort = path.join(dir, "rm-shorter");
  const gen = path.join(dir, "gen-scripted");
  const judge = path.join(dir, "judge-a");
  const judge2 = path.join(dir, "judge-b");

  const baseline = await createProvider({ provider: "baseline" });
  await runRm(ds, { limit: 96 }, baseline, runner(rm, baseline));
  const shorter = scripted("scripted", "shorter-wins", (r) => {
    const t = r.task;
    if (!t || t.kind !== "pairwise") return "no task";
    return `The shorter one. [[${t.responseA.length <= t.responseB.length ? "A" : "B"}]]`;
  });
  await runRm(ds, { limit: 96 }, shorter, runner(rmShort, shorter));

  const g = scripted("scripted", "writer-1", (r) =>
    lastUser(r).includes("# START OF EXAMPLES")
      ? `## Answer for ${r.sequenceKey}\n\nA *personalised* response with a list:\n\n- point one\n- point two\n\n\`code\` and more text.`
      : "A plain response, written **without** any history.",
  );
  await runGeneration(ds, { limit: 36 }, g, runner(gen, g));
  const judgeWith = (salt: string, bonus: number) =>
    scripted("scripted", `judge-${salt}`, (r) => {
      const p = lastUser(r);
      const personal = p.includes("*personalised*");
      const s = Math.min(5, 1 + (hash32(`${salt}:${p}`) % 4) + (personal ? bonus : 0));
      return `Feedback: The response ${personal ? "follows" : "ignores"} the preference (${salt}). [RESULT] ${s}`;
    });
  const j1 = judgeWith("a", 1);
  await runJudge(gen, { cross: true }, j1, runner(judge, j1));
  const j2 = judgeWith("b", 0);
  await runJudge(gen, { cross: true }, j2, runner(judge2, j2));

  const loader = new TripleViewLoader();
  const ids = await loader.listTripleIds(ds);
  return {
    dir,
    ds,
    rm,
    rmShort,
    gen,
    judge,
    judge2,
    loader,
    ids,
    triple: (id, runs = []) => loader.load(ds, id, runs),
    async dashboard() {
      const report = await buildReport([rm, rmShort, judge, judge2]);
      return { report, comparisons: [{ runA: path.resolve(rm), runB: path.resolve(rmShort), result: await compareRuns(rm, rmShort) }] };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
