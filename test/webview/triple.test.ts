/**
 * The counterfactual-triple webview in Chromium with a stub host (see harness.ts): rendering,
 * navigation, dimension switching, runs' outputs, search, state after reload, hostile model
 * output, the nonce CSP, and screenshots in light, dark and high-contrast themes.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { Harness, hostPost, posted, postedCount, screenshot, waitPosted, type Dom, type El, type HarnessWindow } from "./harness.js";
import { buildFixtures, type Fixtures } from "./fixtures.js";
import type { TripleViewModel } from "../../src/protocol/webview.js";

let hx: Harness;
let fx: Fixtures;

before(async () => {
  [hx, fx] = await Promise.all([Harness.start(), buildFixtures()]);
});
after(async () => {
  await hx?.close();
  fx?.cleanup();
});

const columnTexts = (page: Page) => page.$$eval(".columns > .column", (cols) => (cols as unknown as El[]).map((c) => c.textContent ?? ""));
const preferences = (page: Page) => page.$$eval(".columns > .column .preference", (ps) => (ps as unknown as El[]).map((p) => p.textContent ?? ""));
/** A recognisable slice of a markdown text as it reads once rendered (first plain words). */
const snippet = (md: string) =>
  md
    .replace(/[#*_`>[\]()!|-]/g, " ")
    .split(/\s+/)
    .filter((w) => /^[A-Za-z]{3,}[,.;:]?$/.test(w))
    .slice(0, 5)
    .map((w) => w.replace(/[,.;:]$/, ""));

async function showTriple(page: Page, model: TripleViewModel): Promise<void> {
  await hostPost(page, { type: "triple", model });
  await page.waitForFunction((id) => (globalThis as unknown as Dom).document.querySelector(".triple-id")?.textContent === id, model.triple.id);
}

test("renders a triple: the instruction, three member columns with preferences and golden responses", async () => {
  const { page, errors } = await hx.open("triple", { theme: "dark" });
  const first = await posted(page);
  assert.deepEqual(first[0], { type: "ready" }, "the webview says it is ready, with no saved triple");
  const m = await fx.triple(fx.ids[0]!);
  await showTriple(page, m);
  assert.equal(await page.locator(".columns > .column").count(), 3);
  const instruction = await page.locator(".instruction .prompt").innerText();
  for (const w of snippet(m.triple.prompt)) assert.ok(instruction.includes(w), `instruction shows "${w}"`);
  const texts = await columnTexts(page);
  m.triple.members.forEach((mem, j) => {
    for (const w of snippet(mem.response)) assert.ok(texts[j]!.includes(w), `column ${j + 1} shows its golden response ("${w}")`);
  });
  assert.deepEqual(await preferences(page), m.users.style!.map((u) => u!.preference.preference), "the style preference of each member");
  assert.equal(await page.locator("#position").innerText(), `Triple 1 of ${fx.ids.length}`);
  assert.equal(await page.locator("#prev").getAttribute("disabled"), "", "no previous triple at the start");
  // The history opens per column and lists the user's pairs.
  const u = m.users.style![1]!;
  await page.locator(".column[data-member='1'] vscode-collapsible.history").click();
  await page.waitForSelector(".column[data-member='1'] .history-entry");
  assert.equal(await page.locator(".column[data-member='1'] .history-entry").count(), u.history.length);
  await page.locator(".column[data-member='1'] .history-entry summary").first().click();
  await page.waitForSelector(".column[data-member='1'] .history-entry .h-side.not-liked");
  const entry = (await page.locator(".column[data-member='1'] .history-entry").first().textContent()) ?? "";
  assert.ok(entry.includes("Liked") && entry.includes("Not liked"));
  for (const w of snippet(u.history[0]!.chosen)) assert.ok(entry.includes(w), `liked response shows "${w}"`);
  assert.deepEqual(errors, []);
  await page.close();
});

test("navigates: buttons and arrow keys post navigate with the target id; the new triple renders", async () => {
  const { page } = await hx.open("triple");
  await showTriple(page, await fx.triple(fx.ids[0]!));
  let n = await postedCount(page);
  await page.locator("#next").click();
  assert.deepEqual(await waitPosted(page, "navigate", n), { type: "navigate", direction: "next", tripleId: fx.ids[1] });
  // Keyboard: ArrowRight on the page, Enter on the focused button.
  n = await postedCount(page);
  await page.locator("h2#instruction-h").click();
  await page.keyboard.press("ArrowRight");
  assert.deepEqual(await waitPosted(page, "navigate", n), { type: "navigate", direction: "next", tripleId: fx.ids[1] });
  n = await postedCount(page);
  await page.locator("#next").focus();
  await page.keyboard.press("Enter");
  assert.equal((await waitPosted(page, "navigate", n)).tripleId, fx.ids[1]);

  const second = await fx.triple(fx.ids[1]!);
  await showTriple(page, second);
  assert.equal(await page.locator("#position").innerText(), `Triple 2 of ${fx.ids.length}`);
  assert.equal(await page.locator("#prev").getAttribute("disabled"), null);
  assert.deepEqual(await preferences(page), second.users.style!.map((u) => u!.preference.preference));
  n = await postedCount(page);
  await page.locator("#prev").click();
  assert.deepEqual(await waitPosted(page, "navigate", n), { type: "navigate", direction: "prev", tripleId: fx.ids[0] });
  n = await postedCount(page);
  await page.locator("h2#instruction-h").click();
  await page.keyboard.press("ArrowLeft");
  assert.equal((await waitPosted(page, "navigate", n)).direction, "prev");
  // The last triple cannot go further.
  await showTriple(page, await fx.triple(fx.ids.at(-1)!));
  assert.equal(await page.locator("#next").getAttribute("disabled"), "");
  n = await postedCount(page);
  await page.keyboard.press("ArrowRight");
  await page.waitForTimeout(100);
  assert.equal((await posted(page)).slice(n).filter((x) => x.type === "navigate").length, 0);
  await page.close();
});

test("switches dimension by click and by keyboard; the columns follow and the host is told", async () => {
  const { page } = await hx.open("triple");
  const m = await fx.triple(fx.ids[0]!);
  await showTriple(page, m);
  let n = await postedCount(page);
  await page.locator("vscode-tab-header[data-dimension='background_knowledge']").click();
  assert.deepEqual(await waitPosted(page, "selectDimension", n), { type: "selectDimension", dimension: "background_knowledge" });
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector(".columns")?.getAttribute("aria-label")?.includes("Background"));
  assert.deepEqual(await preferences(page), m.users.background_knowledge!.map((u) => u!.preference.preference));
  // Keyboard: arrow to the next tab header, Enter selects it.
  n = await postedCount(page);
  await page.locator("vscode-tab-header[data-dimension='background_knowledge']").focus();
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("Enter");
  assert.deepEqual(await waitPosted(page, "selectDimension", n), { type: "selectDimension", dimension: "informativeness" });
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector(".columns")?.getAttribute("aria-label")?.includes("Informativeness"));
  assert.deepEqual(await preferences(page), m.users.informativeness!.map((u) => u!.preference.preference));
  // Arrow keys inside the tabs do not navigate triples.
  assert.equal((await posted(page)).slice(n).filter((x) => x.type === "navigate").length, 0);
  await page.close();
});

test("the host can pick the dimension shown (a user clicked in the tree); otherwise the webview keeps its own", async () => {
  const { page } = await hx.open("triple");
  const m = await fx.triple(fx.ids[0]!);
  await hostPost(page, { type: "triple", model: m, dimension: "harmlessness" });
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector(".columns")?.getAttribute("aria-label")?.includes("Harmless"));
  assert.deepEqual(await preferences(page), m.users.harmlessness!.map((u) => u!.preference.preference));
  await showTriple(page, await fx.triple(fx.ids[1]!));
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector(".columns")?.getAttribute("aria-label")?.includes("Harmless"));
  await page.close();
});

test("shows runs' outputs per user: RM verdicts in both orders, generations with and without H, judge scores", async () => {
  const { page } = await hx.open("triple");
  const m = await fx.triple(fx.ids[0]!, [fx.rm, fx.gen, fx.judge]);
  await showTriple(page, m);
  const [rm, gen, judge] = m.runs;
  for (let j = 0; j < 3; j++) {
    const u = m.users.style![j]!;
    const col = page.locator(`.column[data-member='${j}']`);
    // Reward model: 2 rejected members x 2 orders.
    const rows = col.locator(`article[data-run='${rm!.run.dir}'] table.rm-verdicts tbody tr`);
    assert.equal(await rows.count(), 4);
    const verdicts = rm!.users[u.id]!.rm!;
    for (let k = 0; k < 4; k++) {
      const v = verdicts[k]!;
      const row = rows.nth(k);
      assert.equal(await row.getAttribute("data-order"), v.order);
      const text = await row.innerText();
      assert.ok(text.includes(`Member ${v.rejectedMember + 1}`));
      assert.equal(await row.locator("td").nth(1).innerText(), v.order === "ab" ? "A" : "B", "where the user's response was shown");
      assert.ok(text.includes(v.correct ? "✓ right" : "✗ wrong"), text);
      assert.ok(text.startsWith(`Member ${v.rejectedMember + 1}`));
      assert.equal(await row.locator("td").nth(2).evaluate((td) => td.firstChild?.textContent), v.verdict);
    }
    const right = verdicts.filter((v) => v.correct).length;
    assert.equal(await col.locator(`article[data-run='${rm!.run.dir}'] caption`).innerText(), `Reward model: ${right}/4 right`);
    // Generation with H (markdown rendered), without H behind a disclosure.
    const g = col.locator(`article[data-run='${gen!.run.dir}']`);
    assert.equal(await g.locator(".gen-with h2").innerText(), `Answer for ${u.id}`);
    assert.equal(await g.locator(".gen-with em").innerText(), "personalised");
    await g.locator(".gen-without summary").click();
    assert.equal(await g.locator(".gen-without .gen-text").innerText(), "A plain response, written without any history.");
    // Judge: own rubric, the two cross rubrics and without H, each with its feedback.
    const scores = judge!.users[u.id]!.judge!;
    const items = col.locator(`article[data-run='${judge!.run.dir}'] .judge-scores li`);
    assert.equal(await items.count(), scores.length);
    assert.equal(scores.length, 4);
    for (let k = 0; k < scores.length; k++) {
      const s = scores[k]!;
      const t = await items.nth(k).innerText();
      assert.ok(t.startsWith(`${s.score}/5`), t);
      assert.ok(t.includes(s.withHistory ? "With H" : "Without H"));
      assert.ok(t.includes(s.feedback!), "feedback shown");
    }
  }
  // The Open button asks the host to open the run.
  const n = await postedCount(page);
  await page.locator(`.column[data-member='0'] article[data-run='${fx.rm}'] .open-run`).click().catch(async () => {
    await page.locator(".column[data-member='0'] article.run-rm .open-run").click();
  });
  assert.deepEqual(await waitPosted(page, "openRun", n), { type: "openRun", runDir: rm!.run.dir });
  await screenshot(page, "triple-runs-dark");
  await page.close();
});

test("search: Enter posts the query, hits are listed and open with the keyboard; an exact id navigates directly", async () => {
  const { page } = await hx.open("triple");
  await showTriple(page, await fx.triple(fx.ids[0]!));
  let n = await postedCount(page);
  await page.locator("#search").click();
  await page.keyboard.type("explain");
  await page.keyboard.press("Enter");
  assert.deepEqual(await waitPosted(page, "search", n), { type: "search", query: "explain" });
  const { hits, total } = await fx.loader.searchTriples(fx.ds, "explain", 5);
  const list = hits.length ? hits : [{ id: fx.ids[2]!, prompt: "x" }];
  await hostPost(page, { type: "searchResults", query: "explain", hits: list, total: Math.max(total, list.length) });
  await page.waitForSelector("#hits:not([hidden]) [role=option]");
  assert.equal(await page.locator("#hits [role=option]").count(), list.length);
  n = await postedCount(page);
  // Focus is on the first hit; ArrowDown then Enter opens the second (or the first if only one).
  if (list.length > 1) await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  const want = list[list.length > 1 ? 1 : 0]!.id;
  assert.deepEqual(await waitPosted(page, "navigate", n), { type: "navigate", direction: "id", tripleId: want });
  assert.equal(await page.locator("#hits").getAttribute("hidden"), "");
  // An exact id skips the search round trip.
  n = await postedCount(page);
  await page.locator("#search").click();
  await page.keyboard.press("Control+A");
  await page.keyboard.type(fx.ids[3]!);
  await page.keyboard.press("Enter");
  assert.deepEqual(await waitPosted(page, "navigate", n), { type: "navigate", direction: "id", tripleId: fx.ids[3] });
  assert.equal((await posted(page)).slice(n).filter((x) => x.type === "search").length, 0);
  // No results.
  await hostPost(page, { type: "searchResults", query: "zzz", hits: [], total: 0 });
  await page.waitForSelector("#hits:not([hidden])");
  assert.match(await page.locator("#hits").innerText(), /No triple matches/);
  await page.close();
});

test("state is restored after a reload: triple, dimension, open history, scroll and query", async () => {
  const { page } = await hx.open("triple", { height: 600 });
  const m = await fx.triple(fx.ids[1]!, [fx.rm, fx.gen, fx.judge]);
  await showTriple(page, m);
  await page.locator("vscode-tab-header[data-dimension='informativeness']").click();
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector(".columns")?.getAttribute("aria-label")?.includes("Informativeness"));
  await page.locator(".column[data-member='2'] vscode-collapsible.history").click();
  await page.waitForSelector(".column[data-member='2'] .history-entry");
  await page.locator("#search").click();
  await page.keyboard.type("some query");
  await page.keyboard.press("Enter");
  await page.evaluate(() => (globalThis as unknown as Dom).scrollTo(0, 700));
  await page.waitForFunction(() => JSON.parse((globalThis as unknown as Dom).sessionStorage.getItem("vscode-webview-state") ?? "{}").scrollY >= 600);
  const y = await page.evaluate(() => (globalThis as unknown as Dom).scrollY);

  await page.reload();
  await page.waitForFunction(() => (globalThis as unknown as HarnessWindow).__posted.length > 0);
  assert.deepEqual((await posted(page))[0], { type: "ready", tripleId: fx.ids[1] }, "ready names the saved triple so the host can reopen it");
  await showTriple(page, m);
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector(".columns")?.getAttribute("aria-label")?.includes("Informativeness"));
  assert.deepEqual(await preferences(page), m.users.informativeness!.map((u) => u!.preference.preference));
  assert.equal(await page.locator(".column[data-member='2'] .history-entry").count(), m.users.informativeness![2]!.history.length, "history still open");
  assert.equal(await page.locator(".column[data-member='0'] .history-entry").count(), 0, "other histories still closed");
  assert.equal(await page.locator("#search").evaluate((el) => (el as unknown as { value: string }).value), "some query");
  await page.waitForFunction((want) => Math.abs((globalThis as unknown as Dom).scrollY - want) < 5, y);
  await page.close();
});

const HOSTILE = [
  "Intro **bold**.",
  "<script>window.__pwned = 'script'</script>",
  '<img src=x onerror="window.__pwned=\'onerror\'">',
  '<a href="javascript:window.__pwned=\'js-link\'">js link</a>',
  '<a href="JaVaScRiPt:window.__pwned=\'js-link2\'" id="evil-link">js link 2</a>',
  '<img src="https://evil.example/x.png" alt="tracker">',
  '<iframe src="https://evil.example/frame" onload="window.__pwned=\'iframe\'"></iframe>',
  '<svg onload="window.__pwned=\'svg\'"><image href="https://evil.example/svg.png"/></svg>',
  '<div style="background:url(https://evil.example/bg.png)">styled</div>',
  '<form action="https://evil.example/f"><button formaction="javascript:window.__pwned=\'form\'">b</button></form>',
  '<details open ontoggle="window.__pwned=\'ontoggle\'"><summary>s</summary>x</details>',
  '<object data="https://evil.example/o"></object><embed src="https://evil.example/e">',
  '<link rel="stylesheet" href="https://evil.example/s.css"><style>body{background:url(https://evil.example/st.png)}</style>',
  '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
  '<p data-pf-href="javascript:window.__pwned=\'data-attr\'">fake link</p>',
  "",
  "[md js link](javascript:window.__pwned='mdlink') and ![md img](https://evil.example/md.png) and ![rel img](x.png)",
  "",
  '<a href="https://example.org/ok" target="_blank" onclick="window.__pwned=\'onclick\'">ok link</a>',
  "",
  '<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned=\'mxss\'">',
].join("\n");

test("hostile text in responses is inert: no script runs, no handlers, no javascript: links, no remote requests", async () => {
  const { page, requests, errors } = await hx.open("triple");
  const base = await fx.triple(fx.ids[0]!, [fx.rm, fx.gen, fx.judge]);
  const m: TripleViewModel = structuredClone(base);
  m.triple.prompt = `Prompt ${HOSTILE}`;
  m.triple.members.forEach((mem) => (mem.response = `Golden ${HOSTILE}`));
  const u = m.users.style![0]!;
  u.preference.preference = `<img src=x onerror="window.__pwned='pref'">`;
  u.history[0]!.chosen = `History ${HOSTILE}`;
  u.history[0]!.prompt = `<img src=x onerror="window.__pwned='hprompt'">`;
  const gen = m.runs[1]!;
  gen.users[u.id]!.withHistory!.text = `Generated ${HOSTILE}`;
  gen.withoutHistory!.text = `Without ${HOSTILE}`;
  m.runs[0]!.users[u.id]!.rm![0]!.raw = `<img src=x onerror="window.__pwned='raw'">`;
  m.runs[2]!.users[u.id]!.judge![0]!.feedback = `<img src=x onerror="window.__pwned='feedback'">`;
  m.runs[2]!.run.label = `<img src=x onerror="window.__pwned='label'">`;
  await showTriple(page, m);
  // Open every disclosure so that lazily rendered parts render too.
  await page.locator(".column[data-member='0'] vscode-collapsible.history").click();
  await page.waitForSelector(".column[data-member='0'] .history-entry");
  const closed = page.locator("#app details:not([open]) > summary");
  for (let k = 0; k < 100 && (await closed.count()) > 0; k++) await closed.first().click();
  assert.equal(await closed.count(), 0);
  await page.waitForTimeout(300);

  assert.equal(await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pwned), undefined, "no injected script ran");
  const bad = await page.evaluate(() => {
    const out: string[] = [];
    for (const el of Array.from((globalThis as unknown as Dom).document.querySelectorAll("#app *"))) {
      for (const a of Array.from(el.attributes)) {
        if (/^on/i.test(a.name)) out.push(`${el.tagName} ${a.name}`);
        if (/^\s*javascript:/i.test(a.value)) out.push(`${el.tagName} ${a.name}=${a.value}`);
        if (a.name === "style" && el.closest(".md")) out.push(`${el.tagName} style`);
      }
    }
    for (const sel of ["script", "iframe", "object", "embed", "form", "svg", "style", "link", "meta", "math", "input", "button"]) {
      const n = (globalThis as unknown as Dom).document.querySelectorAll(`#app .md ${sel}`).length;
      if (n) out.push(`${n} <${sel}> in rendered markdown`);
    }
    out.push(...Array.from((globalThis as unknown as Dom).document.querySelectorAll("#app a[href]")).map((a) => `a[href]=${a.getAttribute("href")}`));
    out.push(...Array.from((globalThis as unknown as Dom).document.querySelectorAll("#app img[src]")).map((i) => `img[src]=${i.getAttribute("src")}`));
    return out;
  });
  assert.deepEqual(bad, [], "no handlers, no javascript: urls, no live links or image sources");
  // The text is there, shown as text (escaped) where it is not markdown.
  assert.ok((await page.locator(".column[data-member='0'] .preference").innerText()).includes("<img src=x onerror="));
  assert.ok((await page.locator(".column[data-member='0'] .judge-scores .feedback").first().innerText()).includes("onerror"));
  assert.ok((await page.locator(".golden").first().innerText()).includes("[image blocked: tracker]"));
  // Clicking the surviving safe link asks the host; clicking neutralised links does nothing.
  let n = await postedCount(page);
  await page.locator(".column[data-member='0'] .golden .md-link").first().click();
  assert.deepEqual(await waitPosted(page, "openLink", n), { type: "openLink", href: "https://example.org/ok" });
  n = await postedCount(page);
  for (const t of ["js link", "js link 2", "md js link", "fake link"]) await page.locator(".column[data-member='0'] .golden").getByText(t, { exact: true }).first().click();
  await page.waitForTimeout(200);
  assert.deepEqual((await posted(page)).slice(n), [], "neutralised links post nothing");
  assert.equal(await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pwned), undefined);
  assert.equal(page.url().startsWith(hx.origin), true, "the page did not navigate");
  const foreign = requests.filter((r) => !r.startsWith(hx.origin));
  assert.deepEqual(foreign, [], "no request left the harness origin");
  assert.deepEqual(requests.filter((r) => /evil|x\.png/.test(r)), []);
  assert.deepEqual(errors, []);
  await screenshot(page, "triple-hostile-dark");
  await page.close();
});

test("works under a strict nonce CSP (no unsafe-inline, no remote anything) without violations", async () => {
  for (const inline of [false, true]) {
    const { page, errors } = await hx.open("triple", { csp: true, cspUnsafeInlineStyle: inline });
    await showTriple(page, await fx.triple(fx.ids[0]!, [fx.rm, fx.gen, fx.judge]));
    await page.locator(".column[data-member='0'] vscode-collapsible.history").click();
    await page.locator("vscode-tab-header[data-dimension='informativeness']").click();
    await page.waitForTimeout(200);
    const v = await page.evaluate(() => (globalThis as unknown as HarnessWindow).__cspViolations);
    assert.deepEqual(v, [], `CSP violations (style-src${inline ? " 'unsafe-inline'" : " without 'unsafe-inline'"}): ${v.join("; ")}`);
    assert.deepEqual(errors.filter((e) => !/Content Security Policy/.test(e)), []);
    await page.close();
  }
});

test("screenshots in light, dark and high-contrast themes", async () => {
  const m = await fx.triple(fx.ids[0]!, [fx.rm, fx.gen, fx.judge]);
  for (const theme of ["light", "dark", "hc"] as const) {
    const { page } = await hx.open("triple", { theme });
    await showTriple(page, m);
    await page.locator(".column[data-member='0'] vscode-collapsible.history").click();
    await page.waitForSelector(".column[data-member='0'] .history-entry");
    await page.locator("#next").focus();
    await screenshot(page, `triple-${theme}`);
    // Body colour follows the theme variables.
    const bg = await page.evaluate(() => (globalThis as unknown as Dom).getComputedStyle((globalThis as unknown as Dom).document.body).backgroundColor);
    assert.equal(bg, { light: "rgb(255, 255, 255)", dark: "rgb(31, 31, 31)", hc: "rgb(0, 0, 0)" }[theme]);
    await page.close();
  }
});
