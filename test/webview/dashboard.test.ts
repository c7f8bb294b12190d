/**
 * The results dashboard in Chromium with a stub host: the paper-style tables and SVG bar charts
 * from a real Report (built by the core from real run folders), export / refresh / compare
 * messages, comparison results, hostile run labels, and screenshots in three themes.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { Harness, hostPost, posted, postedCount, screenshot, waitPosted, type Dom, type El, type HarnessWindow } from "./harness.js";
import { buildFixtures, type Fixtures } from "./fixtures.js";
import { compareRuns } from "../../src/core/metrics/compare.js";
import type { DashboardModel, Dimension, RunProvenance } from "../../src/protocol/webview.js";
import * as path from "node:path";

let hx: Harness;
let fx: Fixtures;
let model: DashboardModel;

before(async () => {
  [hx, fx] = await Promise.all([Harness.start(), buildFixtures()]);
  model = JSON.parse(JSON.stringify(await fx.dashboard())) as DashboardModel;
});
after(async () => {
  await hx?.close();
  fx?.cleanup();
});

const pct = (x: number | null) => (x === null ? "–" : (100 * x).toFixed(2));
const num3 = (x: number | null) => (x === null ? "–" : x.toFixed(3));
const who = (r: RunProvenance) => (r.kind === "judge" ? `${r.source?.provider ?? "?"}/${r.source?.model ?? "?"}` : `${r.provider ?? "?"}/${r.model ?? "?"}`);
const runName = (r: RunProvenance) => `${r.label} (${who(r)})`;
const DIMS: Dimension[] = ["style", "background_knowledge", "informativeness", "harmlessness"];

/** The value of a vscode-single-select once its options are slotted (that happens asynchronously). */
async function selectValue(page: Page, id: string, want: string): Promise<string> {
  await page
    .waitForFunction(([sel, v]) => ((globalThis as unknown as Dom).document.querySelector(sel) as unknown as { value: string } | null)?.value === v, [id, want] as const, { timeout: 3000 })
    .catch(() => undefined);
  return page.locator(id).evaluate((el) => (el as unknown as { value: string }).value);
}

async function show(page: Page, m: DashboardModel): Promise<void> {
  await hostPost(page, { type: "report", model: m });
  await page.waitForSelector("#runs table");
}

const rowsOf = (page: Page, id: string) =>
  page.$$eval(`#${id} table tbody tr`, (trs) => (trs as unknown as El[]).map((tr) => Array.from(tr.children).map((c) => (c.textContent ?? "").trim())));

test("renders the paper-style tables with CIs from a Report", async () => {
  const { page, errors } = await hx.open("dashboard", { theme: "dark" });
  assert.deepEqual((await posted(page))[0], { type: "ready" });
  await show(page, model);
  const r = model.report;
  // Runs with provenance.
  const runs = await rowsOf(page, "runs");
  assert.deepEqual(runs.map((row) => row.slice(0, 5)), r.runs.map((x) => [x.label, x.kind, who(x), x.status, String(x.items)]));
  // Table 1: accuracy [CI] per RM run and dimension, as report.ts formats it.
  const rmRuns = r.perRun.filter((x) => x.rm);
  assert.equal(rmRuns.length, 2);
  const dims = DIMS.filter((d) => rmRuns.some((x) => x.rm!.byDimension[d]));
  assert.equal(dims.length, 4);
  const t1 = await rowsOf(page, "table1");
  assert.deepEqual(
    t1,
    rmRuns.map((x) => [
      runName(x.run),
      ...dims.map((d) => {
        const v = x.rm!.byDimension[d]!;
        return `${pct(v.accuracy)} [${pct(v.ci[0])}, ${pct(v.ci[1])}]`;
      }),
      `${pct(x.rm!.overall.accuracy)} [${pct(x.rm!.overall.ci[0])}, ${pct(x.rm!.overall.ci[1])}]`,
    ]),
  );
  // Its chart: one bar per run and dimension, with error bars and the 50% line.
  assert.equal(await page.locator("#table1 svg.chart rect.bar").count(), rmRuns.length * dims.length);
  assert.equal(await page.locator("#table1 svg.chart line.err").count(), 3 * rmRuns.length * dims.length);
  assert.equal(await page.locator("#table1 svg.chart line.ref").count(), 1);
  const title = await page.locator("#table1 svg.chart rect.bar").first().locator("title").textContent();
  const v0 = rmRuns[0]!.rm!.byDimension[dims[0]!]!;
  assert.equal(title, `${runName(rmRuns[0]!.run)} — Style: ${(100 * v0.accuracy!).toFixed(0)} [${(100 * v0.ci[0]!).toFixed(0)}, ${(100 * v0.ci[1]!).toFixed(0)}]`);
  // Bar heights follow the values: compare two bars' heights with their accuracies.
  const heights = await page.$$eval("#table1 svg.chart rect.bar", (rs) => (rs as unknown as El[]).map((x) => Number(x.getAttribute("height"))));
  const accs = dims.flatMap((d) => rmRuns.map((x) => 100 * x.rm!.byDimension[d]!.accuracy!));
  heights.forEach((hgt, i) => assert.ok(Math.abs(hgt / heights[0]! - accs[i]! / accs[0]!) < 0.02, `bar ${i} height ∝ accuracy`));
  // Table 2: with / without H, delta, p per judge run and dimension.
  const genRuns = r.perRun.filter((x) => x.generation);
  assert.equal(genRuns.length, 2);
  const t2 = await rowsOf(page, "table2");
  const want2 = genRuns.flatMap((x) =>
    DIMS.filter((d) => x.generation!.byDimension[d]).map((d) => {
      const g = x.generation!.byDimension[d]!;
      return [
        runName(x.run),
        d,
        `${num3(g.withoutHistory.mean)} [${num3(g.withoutHistory.ci[0])}, ${num3(g.withoutHistory.ci[1])}]`,
        `${num3(g.withHistory.mean)} [${num3(g.withHistory.ci[0])}, ${num3(g.withHistory.ci[1])}]`,
        g.delta === null ? "–" : `${g.delta > 0 ? "+" : ""}${(100 * g.delta).toFixed(2)}%`,
      ];
    }),
  );
  assert.deepEqual(t2.map((row) => row.slice(0, 5)), want2);
  assert.equal(await page.locator("#table2 svg.chart").count(), genRuns.length, "one with/without chart per run");
  // Table 3 side by side and the steerability table with its chart.
  const t3 = await rowsOf(page, "table3");
  assert.equal(t3.length, 2);
  assert.equal(t3[0]![0], runName(genRuns[0]!.run));
  const st = await rowsOf(page, "steerability");
  assert.ok(st.length >= 3, "steerability per judge run and dimension");
  assert.equal(await page.locator("#steerability svg.chart line.ref").count(), 1);
  // The comparison that came with the model.
  const cmp = model.comparisons![0]!;
  const cmpRows = await page.$$eval("#comparisons table tbody tr", (trs) => (trs as unknown as El[]).map((tr) => Array.from(tr.children).map((c) => (c.textContent ?? "").trim())));
  const overall = cmpRows.find((row) => row[0] === "overall")!;
  assert.ok(cmp.result.kind === "rm");
  assert.deepEqual(overall, ["overall", pct(cmp.result.overall.accuracyA), pct(cmp.result.overall.accuracyB), String(cmp.result.overall.b), String(cmp.result.overall.c), String(cmp.result.overall.n), cmp.result.overall.pValue < 1e-4 ? cmp.result.overall.pValue.toExponential(1) : cmp.result.overall.pValue.toFixed(4)]);
  assert.deepEqual(errors, []);
  await page.close();
});

test("export, refresh and open-run buttons post their messages; the export result shows", async () => {
  const { page } = await hx.open("dashboard");
  await show(page, model);
  let n = await postedCount(page);
  await page.locator("#export-csv").click();
  assert.deepEqual(await waitPosted(page, "export", n), { type: "export", format: "csv" });
  n = await postedCount(page);
  await page.locator("#export-md").focus();
  await page.keyboard.press("Enter");
  assert.deepEqual(await waitPosted(page, "export", n), { type: "export", format: "md" });
  await hostPost(page, { type: "exported", format: "md", path: "/tmp/report.md" });
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.getElementById("status")?.textContent?.includes("/tmp/report.md"));
  n = await postedCount(page);
  await page.locator("#refresh").click();
  assert.deepEqual(await waitPosted(page, "refresh", n), { type: "refresh" });
  n = await postedCount(page);
  await page.locator("#runs .open-run").nth(2).click();
  assert.deepEqual(await waitPosted(page, "openRun", n), { type: "openRun", runDir: model.report.runs[2]!.dir });
  await hostPost(page, { type: "error", message: "could not read run X" });
  await page.waitForSelector("#status.error");
  await page.close();
});

test("compare: two runs of one kind post compare; the host's result shows p-values; mismatches are refused", async () => {
  const { page } = await hx.open("dashboard");
  await show(page, { report: model.report });
  const rm = path.resolve(fx.rm);
  const rmShort = path.resolve(fx.rmShort);
  const j1 = path.resolve(fx.judge);
  const j2 = path.resolve(fx.judge2);
  assert.equal(await selectValue(page, "#compare-a", rm), rm);
  assert.equal(await selectValue(page, "#compare-b", rmShort), rmShort, "B defaults to another run of A's kind");
  let n = await postedCount(page);
  await page.locator("#compare-go").click();
  assert.deepEqual(await waitPosted(page, "compare", n), { type: "compare", runA: rm, runB: rmShort });
  // Pick the two judge runs.
  const pick = (id: string, v: string) => page.locator(id).evaluate((el, value) => {
    (el as unknown as { value: string }).value = value;
    el.dispatchEvent(new (globalThis as unknown as Dom).Event("change"));
  }, v);
  await pick("#compare-a", j1);
  await pick("#compare-b", j2);
  n = await postedCount(page);
  await page.locator("#compare-go").click();
  assert.deepEqual(await waitPosted(page, "compare", n), { type: "compare", runA: j1, runB: j2 });
  const result = await compareRuns(j1, j2);
  await hostPost(page, { type: "comparison", comparison: { runA: j1, runB: j2, result } });
  await page.waitForSelector("#comparisons table");
  const caption = await page.locator("#comparisons h2").first().innerText();
  assert.equal(caption, "judge-a vs judge-b: judge score, paired bootstrap");
  const rows = await page.$$eval("#comparisons table tbody tr", (trs) => (trs as unknown as El[]).map((tr) => Array.from(tr.children).map((c) => (c.textContent ?? "").trim())));
  assert.ok(result.kind === "judge");
  const o = result.overall;
  assert.deepEqual(rows.at(-1), ["overall", o.meanA.toFixed(3), o.meanB.toFixed(3), `${o.meanDiff.toFixed(3)} [${o.ci.lo.toFixed(3)}, ${o.ci.hi.toFixed(3)}]`, String(o.n), o.pValue < 1e-4 ? o.pValue.toExponential(1) : o.pValue.toFixed(4)]);
  // Different kinds: refused in the webview, nothing posted.
  await pick("#compare-a", rm);
  await pick("#compare-b", j1);
  n = await postedCount(page);
  await page.locator("#compare-go").click();
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector(".compare-msg")?.textContent?.includes("Cannot compare"));
  assert.deepEqual((await posted(page)).slice(n), []);
  // A host-side failure shows too.
  await hostPost(page, { type: "comparisonError", runA: rm, runB: rmShort, message: "the two runs share no item" });
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector(".compare-msg.error")?.textContent === "the two runs share no item");
  await page.close();
});

test("run labels and provider names are shown as text, never as markup", async () => {
  const { page, requests } = await hx.open("dashboard");
  const m: DashboardModel = structuredClone(model);
  m.report.runs[0]!.label = `<img src="https://evil.example/x.png" onerror="window.__pwned='label'">`;
  m.report.perRun[0]!.run = m.report.runs[0]!;
  m.report.runs[1]!.provider = `<script>window.__pwned='provider'</script>`;
  await show(page, m);
  await page.waitForTimeout(200);
  assert.equal(await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pwned), undefined);
  assert.equal(await page.locator("#app img, #app script").count(), 0);
  assert.ok((await page.locator("#runs").innerText()).includes(`<img src="https://evil.example/x.png"`));
  assert.deepEqual(requests.filter((r) => !r.startsWith(hx.origin)), []);
  await page.close();
});

test("state: scroll and the compare picks survive a reload", async () => {
  const { page } = await hx.open("dashboard", { height: 500 });
  await show(page, model);
  const j1 = path.resolve(fx.judge);
  const j2 = path.resolve(fx.judge2);
  await selectValue(page, "#compare-b", path.resolve(fx.rmShort));
  for (const [id, v] of [["#compare-a", j1], ["#compare-b", j2]] as const) {
    await page.locator(id).evaluate((el, value) => {
      (el as unknown as { value: string }).value = value;
    }, v);
  }
  await page.locator("#compare-go").click();
  await page.evaluate(() => (globalThis as unknown as Dom).scrollTo(0, 600));
  await page.waitForFunction(() => JSON.parse((globalThis as unknown as Dom).sessionStorage.getItem("vscode-webview-state") ?? "{}").scrollY >= 500);
  await page.reload();
  await page.waitForFunction(() => (globalThis as unknown as HarnessWindow).__posted.length > 0);
  await show(page, model);
  assert.equal(await selectValue(page, "#compare-a", j1), j1);
  assert.equal(await selectValue(page, "#compare-b", j2), j2);
  await page.waitForFunction(() => Math.abs((globalThis as unknown as Dom).scrollY - 600) < 5);
  await page.close();
});

test("works under a strict nonce CSP without violations", async () => {
  const { page, errors } = await hx.open("dashboard", { csp: true });
  await show(page, model);
  await page.waitForTimeout(200);
  assert.deepEqual(await page.evaluate(() => (globalThis as unknown as HarnessWindow).__cspViolations), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test("screenshots in light, dark and high-contrast themes", async () => {
  for (const theme of ["light", "dark", "hc"] as const) {
    const { page } = await hx.open("dashboard", { theme, height: 1000 });
    await show(page, model);
    await screenshot(page, `dashboard-${theme}`, true);
    await page.close();
  }
});
