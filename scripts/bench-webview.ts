/**
 * Triple webview render time in Chromium (Debian's, headless, through playwright-core), using the
 * built bundle dist/webview/triple.js in the test harness page (test/webview/harness.ts).
 *
 *   npm run build && npx tsx scripts/bench-webview.ts [--iterations N]
 *
 * Each iteration delivers one `triple` host message with fresh texts (so the markdown cache never
 * helps) and measures with performance.now() in the page:
 *   - render:  the message handler (markdown + sanitizing + DOM building), synchronous;
 *   - layout:  render + forced style/layout of the whole page;
 *   - frame:   until the next animation frame has run (custom elements updated, ready to paint).
 * Scenarios: the three 4,000-character golden responses alone, and with three runs (RM verdicts,
 * a 4,000-character generation per member, judge scores) on top.
 * Budget: a triple with three 4,000-character responses renders in <= 150 ms (the "frame" figure).
 * Prints one line per figure (median and p95).
 */
import { parseArgs } from "node:util";
import { Harness, hostPost, type Dom } from "../test/webview/harness.js";
import type { Dimension, HistoryEntryView, RunOutputsView, TripleViewModel, UserView } from "../src/protocol/webview.js";

const BUDGET_MS = 150;
const DIMS: Dimension[] = ["style", "background_knowledge", "informativeness", "harmlessness"];

/** About `chars` characters of varied markdown (headings, lists, emphasis, code, a table). */
function markdown(chars: number, seed: string): string {
  const parts: string[] = [];
  let i = 0;
  while (parts.join("\n\n").length < chars) {
    const k = i % 6;
    if (k === 0) parts.push(`## Section ${i} (${seed})`);
    else if (k === 1) parts.push(`The **key idea** in part ${i} is that the *user's preference* shapes the answer; see \`example_${i}()\` and [a reference](https://example.org/${seed}/${i}). This sentence pads the paragraph to a realistic length for model output.`);
    else if (k === 2) parts.push(["- first point about the topic, explained briefly", "- second point, with **emphasis** and a number 42", "- third point, which closes the list", "  1. a nested step", "  2. another nested step"].join("\n"));
    else if (k === 3) parts.push("```python\n" + `def f_${i}(x):\n    return x * ${i}  # ${seed}\n` + "```");
    else if (k === 4) parts.push(`| option | effect |\n| --- | --- |\n| A${i} | faster |\n| B${i} | safer |`);
    else parts.push(`> A quoted remark ${i} (${seed}) that a model might include to sound thoughtful, followed by more plain prose about trade-offs.`);
    i++;
  }
  return parts.join("\n\n").slice(0, chars);
}

function model(n: number, withRuns: boolean): TripleViewModel {
  const id = `te-bench-${n}`;
  const members = [0, 1, 2].map((j) => ({
    index: j,
    system: `system ${j}`,
    preference_set: DIMS.map((d) => ({ dimension: d, subdimension: `${d}-sub-${j}`, preference: `prefers ${d} variant ${j}`, description: `A description of the ${d} preference of member ${j}.` })),
    response: markdown(4000, `${n}-${j}`),
    rubrics: DIMS.map(() => ({ criteria: "c", score_descriptions: { "1": "a", "2": "b", "3": "c", "4": "d", "5": "e" } })),
  }));
  const history = (j: number): HistoryEntryView[] =>
    Array.from({ length: 10 }, (_, k) => ({
      pairId: `p${k}`,
      prompt: `History prompt ${k}`,
      chosen: markdown(1500, `h${n}-${j}-${k}c`),
      rejected: markdown(1500, `h${n}-${j}-${k}r`),
      preference: { subdimension: "sub", preference: `pref ${k}`, description: "d" },
      score: 0.5 + k / 100,
    }));
  const users: TripleViewModel["users"] = {};
  for (const d of DIMS) {
    users[d] = [0, 1, 2].map((j): UserView => ({ id: `${id}.${j}.${d}`, member: j, dimension: d, preference: { subdimension: `${d}-sub-${j}`, preference: `prefers ${d} variant ${j}`, description: "d" }, history: history(j) }));
  }
  const runs: RunOutputsView[] = [];
  if (withRuns) {
    const run = (kind: "rm" | "generate" | "judge", label: string) => ({ dir: `/runs/${label}`, label, kind, provider: "bench", model: "m", status: "finished" });
    const rm: RunOutputsView = { run: run("rm", "rm"), users: {} };
    const gen: RunOutputsView = { run: run("generate", "gen"), users: {}, withoutHistory: { itemId: `${id}.noh`, text: markdown(4000, `${n}-noh`) } };
    const judge: RunOutputsView = { run: run("judge", "judge"), users: {} };
    for (let j = 0; j < 3; j++) {
      const uid = `${id}.${j}.style`;
      rm.users[uid] = {
        userId: uid,
        member: j,
        dimension: "style",
        rm: [0, 1, 2]
          .filter((k) => k !== j)
          .flatMap((k) => (["ab", "ba"] as const).map((order) => ({ itemId: `${uid}.vs${k}.${order}`, rejectedMember: k, order, chosen: order === "ab" ? ("A" as const) : ("B" as const), verdict: "A" as const, correct: order === "ab", status: "ok" as const, raw: "Reasoning ... [[A]]" }))),
      };
      gen.users[uid] = { userId: uid, member: j, dimension: "style", withHistory: { itemId: `${uid}.h`, text: markdown(4000, `${n}-g${j}`) } };
      judge.users[uid] = {
        userId: uid,
        member: j,
        dimension: "style",
        judge: [0, 1, 2].map((k) => ({ itemId: `${uid}.h@${k}`, withHistory: true, rubricMember: k, score: 3 + (k === j ? 1 : 0), feedback: "The response mostly follows the rubric; a longer feedback text as judges write.", raw: "...", calls: 1 })),
      };
    }
    runs.push(rm, gen, judge);
  }
  return {
    dataset: { dir: "/ds", manifestHash: "0".repeat(64), seed: 0, historySize: 10, testTriples: 307, users: 3684 },
    triple: { id, prompt: `Benchmark instruction ${n}: explain the topic for this user.`, members },
    users,
    runs,
    tripleIds: Array.from({ length: 307 }, (_, k) => (k === 5 ? id : `te-other-${k}`)),
  };
}

interface Timing {
  render: number;
  layout: number;
  frame: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { iterations: { type: "string", default: "25" } } });
  const iterations = Number(values.iterations);
  const hx = await Harness.start();
  try {
    const { page } = await hx.open("triple", { width: 1400, height: 900 });
    // Warm-up: the first render also defines the custom elements and compiles the code paths.
    for (let w = 0; w < 3; w++) {
      await hostPost(page, { type: "triple", model: model(-1 - w, true) });
      await page.waitForTimeout(50);
    }
    for (const withRuns of [false, true]) {
      const times: Timing[] = [];
      for (let n = 0; n < iterations; n++) {
        const data = JSON.parse(JSON.stringify(model(n + (withRuns ? 1000 : 0), withRuns))) as TripleViewModel;
        const t = await page.evaluate(async (m) => {
          const g = globalThis as unknown as Dom & {
            performance: { now(): number };
            requestAnimationFrame(cb: () => void): void;
            dispatchEvent(e: unknown): boolean;
            MessageEvent: new (type: string, init: { data: unknown }) => unknown;
          };
          const t0 = g.performance.now();
          g.dispatchEvent(new g.MessageEvent("message", { data: { type: "triple", model: m } }));
          const t1 = g.performance.now();
          void (g.document.body as unknown as { getBoundingClientRect(): unknown; offsetHeight: number }).offsetHeight;
          const t2 = g.performance.now();
          await new Promise<void>((resolve) => g.requestAnimationFrame(() => resolve()));
          const t3 = g.performance.now();
          return { render: t1 - t0, layout: t2 - t0, frame: t3 - t0 };
        }, data);
        const rendered = await page.evaluate(() => (globalThis as unknown as Dom).document.querySelectorAll(".columns > .column").length);
        if (rendered !== 3) throw new Error(`expected 3 columns, found ${rendered}`);
        times.push(t);
        await page.waitForTimeout(20);
      }
      const stat = (k: keyof Timing) => {
        const xs = times.map((x) => x[k]).sort((a, b) => a - b);
        return { median: xs[Math.floor(xs.length / 2)]!, p95: xs[Math.min(xs.length - 1, Math.ceil(0.95 * xs.length) - 1)]! };
      };
      const label = withRuns ? "3 x 4,000-char golden + 3 runs (3 x 4,000-char generations, RM, judge)" : "3 x 4,000-char golden responses";
      for (const k of ["render", "layout", "frame"] as const) {
        const s = stat(k);
        console.log(`triple webview ${k.padEnd(6)} [${label}]: median ${s.median.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms (n=${iterations})`);
      }
      const f = stat("frame");
      console.log(`budget <= ${BUDGET_MS} ms (frame, p95) [${label}]: ${f.p95 <= BUDGET_MS ? "PASS" : "FAIL"}`);
    }
    const version = hx.browser.version();
    console.log(`chromium ${version}, headless, ${process.platform}/${process.arch}`);
    await page.close();
  } finally {
    await hx.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
