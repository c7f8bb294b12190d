/**
 * The hostile-payload corpus (hostile-corpus.ts) through the triple and dashboard webviews in
 * Chromium, under the extension's CSP: nothing executes (no `__pwned`), nothing fetches (every
 * request outside the page's own origin is intercepted and recorded), no link opens without the
 * host (only http(s) links reach the host, as `openLink` messages it then confirms), host messages
 * of unknown shape are dropped, and the text is still shown.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { Harness, hostPost, posted, waitPosted, type Dom, type HarnessWindow } from "./harness.js";
import { buildFixtures, type Fixtures } from "./fixtures.js";
import { ALL, HOSTILE_PAYLOADS, MARK, NESTED, OVERSIZED } from "./hostile-corpus.js";
import type { DashboardModel, TripleViewModel } from "../../src/protocol/webview.js";

let hx: Harness;
let fx: Fixtures;
before(async () => {
  [hx, fx] = await Promise.all([Harness.start(), buildFixtures()]);
});
after(async () => {
  await hx?.close();
  fx?.cleanup();
});

/** Opens a view under the CSP, aborting (and recording) every request that leaves the page's origin. */
async function openGuarded(view: "triple" | "dashboard"): Promise<{ page: Page; foreign: string[]; errors: string[] }> {
  const { page, requests, errors } = await hx.open(view, { csp: true });
  const foreign: string[] = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(hx.origin)) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  foreign.push(...requests.filter((r) => !r.startsWith(hx.origin)));
  return { page, foreign, errors };
}

/** Elements with handlers, javascript:/data: URLs, live href/src, or active tags inside #app. */
async function liveThings(page: Page, ownTags: string[] = []): Promise<string[]> {
  return page.evaluate((own) => {
    const doc = (globalThis as unknown as Dom).document;
    const out: string[] = [];
    for (const el of Array.from(doc.querySelectorAll("#app *"))) {
      for (const a of Array.from(el.attributes)) {
        if (/^on/i.test(a.name)) out.push(`${el.tagName} ${a.name}`);
        if (/^\s*(javascript|data|vbscript|command|file):/i.test(a.value) && a.name !== "data-pf-href") out.push(`${el.tagName} ${a.name}=${a.value.slice(0, 40)}`);
        if (["href", "src", "srcset", "srcdoc", "action", "formaction", "poster", "background"].includes(a.name.toLowerCase())) out.push(`${el.tagName}[${a.name}]`);
      }
    }
    for (const sel of ["script", "iframe", "object", "embed", "form", "style", "link", "meta", "base", "svg", "math", "video", "audio", "picture", "source", "noscript"].filter((t) => !own.includes(t))) {
      const n = doc.querySelectorAll(`#app ${sel}`).length;
      if (n) out.push(`${n} <${sel}>`);
    }
    // data-pf-href must only ever hold a web or mail link.
    for (const el of Array.from(doc.querySelectorAll("#app [data-pf-href]"))) {
      const h = el.getAttribute("data-pf-href") ?? "";
      if (!/^(https?:|mailto:)/i.test(h)) out.push(`data-pf-href=${h.slice(0, 40)}`);
    }
    return out;
  }, ownTags);
}

const pwned = (page: Page) => page.evaluate(() => (globalThis as unknown as HarnessWindow).__pwned);
const bodyText = (page: Page) => page.evaluate(() => (globalThis as unknown as Dom).document.querySelector("#app")?.textContent ?? "");

test("triple view: every hostile payload in every untrusted field is inert, fetches nothing, and is still shown", async () => {
  const { page, foreign, errors } = await openGuarded("triple");
  const base = await fx.triple(fx.ids[0]!, [fx.rm, fx.gen, fx.judge]);
  const m: TripleViewModel = structuredClone(base);
  m.triple.prompt = `Prompt ${ALL}`;
  m.triple.members.forEach((mem) => (mem.response = `Golden ${ALL}`));
  const u = m.users.style![0]!;
  u.preference.preference = ALL;
  u.history[0]!.chosen = `History ${ALL}`;
  u.history[0]!.prompt = ALL;
  const gen = m.runs[1]!;
  gen.users[u.id]!.withHistory!.text = `Generated ${ALL}`;
  gen.withoutHistory!.text = `Without ${ALL}`;
  m.runs[0]!.users[u.id]!.rm![0]!.raw = ALL;
  m.runs[2]!.users[u.id]!.judge![0]!.feedback = ALL;
  m.runs[2]!.run.label = ALL.slice(0, 2000);
  m.runs[0]!.error = ALL;
  await hostPost(page, { type: "triple", model: m });
  await page.waitForFunction((id) => (globalThis as unknown as Dom).document.querySelector(".triple-id")?.textContent === id, m.triple.id, { timeout: 60_000 });
  await page.locator(".column[data-member='0'] vscode-collapsible.history").click();
  await page.waitForSelector(".column[data-member='0'] .history-entry");
  const closed = page.locator("#app details:not([open]) > summary");
  for (let k = 0; k < 100 && (await closed.count()) > 0; k++) await closed.first().click();
  await page.waitForTimeout(300);

  assert.equal(await pwned(page), undefined, "nothing executed");
  assert.deepEqual(await liveThings(page), [], "no handlers, no active elements, no live URLs");
  const text = await bodyText(page);
  for (let i = 1; i <= HOSTILE_PAYLOADS.length; i++) assert.ok(text.includes(`${MARK}${i} `), `payload ${i}'s text is shown`);

  // Every rendered link: a click only ever posts an http(s) openLink (the host asks before opening).
  const before = (await posted(page)).length;
  const links = page.locator("#app [data-pf-href]");
  const n = Math.min(await links.count(), 40);
  for (let i = 0; i < n; i++) await links.nth(i).click({ force: true });
  for (const t of ["js link", "data link", "md js", "md data", "tab js", "entity js", "cmd", "vbs", "file"]) {
    const el = page.locator("#app").getByText(t, { exact: true }).first();
    if ((await el.count()) > 0) await el.click({ force: true });
  }
  await page.waitForTimeout(200);
  const sent = (await posted(page)).slice(before);
  assert.ok(sent.length > 0, "safe links still reach the host");
  for (const s of sent) {
    assert.equal(s.type, "openLink");
    assert.match(String(s.href), /^https?:\/\//, `only web links are posted (${String(s.href)})`);
  }
  assert.ok(sent.some((s) => String(s.href).startsWith("http://127.0.0.1:9/")), "a local link is passed to the host (which asks), not opened");
  assert.equal(page.url().startsWith(hx.origin), true, "the page never navigated");
  assert.equal(await pwned(page), undefined);
  assert.deepEqual(foreign, [], "no request left the page");
  assert.deepEqual(errors.filter((e) => !/Content Security Policy|Refused to/.test(e)), [], "no page errors");
  await page.close();
});

test("triple view: oversized (1 MB) and deeply nested input renders, inert, without fetching", async () => {
  const { page, foreign } = await openGuarded("triple");
  const m: TripleViewModel = structuredClone(await fx.triple(fx.ids[0]!));
  m.triple.members[0]!.response = NESTED;
  m.triple.members[1]!.response = OVERSIZED;
  m.triple.prompt = `${MARK}P ${HOSTILE_PAYLOADS[1]}`;
  await hostPost(page, { type: "triple", model: m });
  await page.waitForFunction((id) => (globalThis as unknown as Dom).document.querySelector(".triple-id")?.textContent === id, m.triple.id, { timeout: 60_000 });
  const text = await bodyText(page);
  assert.ok(text.includes(`${MARK}N`) && text.includes(`${MARK}O`) && text.includes("deep div"), "nested and oversized text shown");
  assert.equal(await pwned(page), undefined);
  assert.deepEqual(foreign, []);
  await page.close();
});

test("triple view: host messages of unknown shape are dropped before rendering", async () => {
  const { page, errors } = await openGuarded("triple");
  const m = await fx.triple(fx.ids[0]!);
  await hostPost(page, { type: "triple", model: m });
  await page.waitForFunction((id) => (globalThis as unknown as Dom).document.querySelector(".triple-id")?.textContent === id, m.triple.id);
  const shown = await bodyText(page);
  for (const bad of [null, 42, "triple", [], { type: "exec", code: "window.__pwned='x'" }, { type: 7 }, { kind: "triple", model: m }]) await hostPost(page, bad);
  await page.waitForTimeout(200);
  assert.equal(await bodyText(page), shown, "the page is unchanged");
  assert.equal(await pwned(page), undefined);
  assert.deepEqual(errors.filter((e) => !/Content Security Policy|Refused to/.test(e)), []);
  await page.close();
});

test("triple view: a host message of a known type with a malformed payload is dropped, reported to the host, and a valid one still renders", async () => {
  const { page, errors } = await openGuarded("triple");
  const m = await fx.triple(fx.ids[0]!);
  await hostPost(page, { type: "triple", model: m });
  await page.waitForFunction((id) => (globalThis as unknown as Dom).document.querySelector(".triple-id")?.textContent === id, m.triple.id);
  const shown = await bodyText(page);
  const malformed: { message: Record<string, unknown>; where: RegExp }[] = [
    { message: { type: "triple", model: { ...m, triple: { ...m.triple, prompt: { toString: "<img src=x onerror=alert(1)>" } } } }, where: /^triple: model\.triple\.prompt/ },
    { message: { type: "triple", model: { ...m, users: { style: [{ id: 1 }] } } }, where: /^triple: model\.users\.style\.0/ },
    { message: { type: "triple", model: m, dimension: "<script>" }, where: /^triple: dimension/ },
    { message: { type: "loading" }, where: /^loading: tripleId/ },
    { message: { type: "searchResults", query: "q", hits: "<b>x</b>", total: 1 }, where: /^searchResults: hits/ },
    { message: { type: "searchResults", query: "q", hits: [{ id: ["a"], prompt: "p" }], total: 1 }, where: /^searchResults: hits\.0\.id/ },
    { message: { type: "error", message: ["<svg onload=alert(1)>"] }, where: /^error: message/ },
  ];
  for (const { message, where } of malformed) {
    const before = (await posted(page)).length;
    await hostPost(page, message);
    const report = (await waitPosted(page, "invalidHostMessage", before)) as unknown as { reason: string };
    assert.match(report.reason, where, JSON.stringify(message).slice(0, 80));
  }
  assert.equal(await bodyText(page), shown, "no malformed message changed the page");
  // Valid messages of each type still render.
  const next = await fx.triple(fx.ids[1]!);
  await hostPost(page, { type: "triple", model: next, dimension: "harmlessness" });
  await page.waitForFunction((id) => (globalThis as unknown as Dom).document.querySelector(".triple-id")?.textContent === id, next.triple.id);
  await hostPost(page, { type: "error", message: `${MARK}valid error` });
  await page.waitForFunction((t) => ((globalThis as unknown as Dom).document.querySelector("#app")?.textContent ?? "").includes(t), `${MARK}valid error`);
  assert.equal(await pwned(page), undefined);
  assert.deepEqual(errors.filter((e) => !/Content Security Policy|Refused to/.test(e)), []);
  await page.close();
});

test("dashboard: host messages with malformed payloads (report, comparison, comparisonError, exported, error) are dropped and reported; valid ones still render", async () => {
  const { page, errors } = await openGuarded("dashboard");
  const m: DashboardModel = await fx.dashboard();
  const run = m.report.runs[0]!;
  const malformed: { message: Record<string, unknown>; where: RegExp }[] = [
    { message: { type: "report", model: { report: { ...m.report, runs: [{ ...run, label: 7 }] } } }, where: /^report: model\.report\.runs\.0\.label/ },
    { message: { type: "report", model: { report: { ...m.report, rm: { byDimension: {}, overall: { accuracy: "1" } } } } }, where: /^report: model\.report\.rm\.overall/ },
    { message: { type: "comparison", comparison: { runA: "a", runB: "b", result: { kind: "exec" } } }, where: /^comparison: comparison\.result/ },
    { message: { type: "comparisonError", runA: "a", runB: null, message: "m" }, where: /^comparisonError: runB/ },
    { message: { type: "exported", format: "html", path: "/x" }, where: /^exported: format/ },
    { message: { type: "error", message: 42 }, where: /^error: message/ },
  ];
  for (const { message, where } of malformed) {
    const before = (await posted(page)).length;
    await hostPost(page, message);
    const report = (await waitPosted(page, "invalidHostMessage", before)) as unknown as { reason: string };
    assert.match(report.reason, where, JSON.stringify(message).slice(0, 80));
  }
  assert.equal(await page.evaluate(() => (globalThis as unknown as Dom).document.querySelector("#runs table")), null, "no malformed report rendered");
  await hostPost(page, { type: "report", model: m });
  await page.waitForSelector("#runs table");
  await hostPost(page, { type: "error", message: `${MARK}valid error` });
  await page.waitForFunction((t) => ((globalThis as unknown as Dom).document.querySelector("#app")?.textContent ?? "").includes(t), `${MARK}valid error`);
  assert.equal(await pwned(page), undefined);
  assert.deepEqual(errors.filter((e) => !/Content Security Policy|Refused to/.test(e)), []);
  await page.close();
});

test("dashboard: hostile run labels, providers, params, comparison errors and error messages are inert and shown as text", async () => {
  const { page, foreign, errors } = await openGuarded("dashboard");
  const m: DashboardModel = structuredClone(await fx.dashboard());
  const runs = m.report.runs;
  runs.forEach((r, i) => {
    r.label = `${HOSTILE_PAYLOADS[i % HOSTILE_PAYLOADS.length]}`;
    r.provider = HOSTILE_PAYLOADS[(i + 5) % HOSTILE_PAYLOADS.length]!;
    r.model = HOSTILE_PAYLOADS[(i + 11) % HOSTILE_PAYLOADS.length]!;
    r.params = { evil: ALL.slice(0, 3000) };
  });
  m.report.perRun.forEach((p) => (p.run = runs.find((r) => r.dir === p.run.dir) ?? p.run));
  await hostPost(page, { type: "report", model: m });
  await page.waitForSelector("#runs table");
  await page.waitForTimeout(200);
  assert.equal(await pwned(page), undefined);
  // The dashboard draws its own charts as SVG (from numbers, never from text): those are not payloads.
  assert.deepEqual(await liveThings(page, ["svg"]), []);
  const text = await bodyText(page);
  assert.ok(text.includes(`${MARK}1 `), "labels shown as text");
  await hostPost(page, { type: "comparisonError", runA: ALL, runB: ALL, message: ALL });
  await hostPost(page, { type: "error", message: ALL });
  await page.waitForTimeout(200);
  assert.equal(await pwned(page), undefined);
  assert.deepEqual(await liveThings(page, ["svg"]), []);
  assert.ok((await bodyText(page)).includes(`${MARK}5 `), "the error message is shown as text");
  assert.deepEqual(foreign, []);
  assert.deepEqual(errors.filter((e) => !/Content Security Policy|Refused to/.test(e)), []);
  await page.close();
});
