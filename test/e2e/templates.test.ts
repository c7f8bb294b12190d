/**
 * The `.ptpl` template language in a real VS Code (code-server + chromium): a workspace holds a
 * reward-model template with one unknown placeholder (`{{respons_c}}`). Opening it starts the
 * language server; the Problems panel shows its diagnostic (message, code, position), the editor
 * shows the code lenses, and typing `{{` offers the reward-model placeholders in the suggest
 * widget. Screenshots: test-results/e2e/templates-*.png.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { loadEnv, Session } from "./harness.ts";

const FILE = "bad.ptpl";
const UNKNOWN = "{{respons_c}}";
const TEMPLATE = `---
kind: reward-model
name: bad-template
description: A reward-model template with a misspelt placeholder.
---
@user
# START OF EXAMPLES
{{feedback_history}}
# END OF EXAMPLES

###Instruction:
{{instruction}}

###Response A:
{{response_a}}

###Response B:
{{response_b}}

Compare both with ${UNKNOWN} as well.

Which response does this user prefer? Explain, then output "[[A]]" or "[[B]]".
`;
// In the order KINDS declares them (the diagnostic lists them so); `preference` is for oracle templates.
const PLACEHOLDERS = ["feedback_history", "preference", "instruction", "response_a", "response_b"];

/** Where the unknown placeholder is, 1-based, as the Problems panel shows it. */
const unknownAt = (() => {
  const lines = TEMPLATE.split("\n");
  const i = lines.findIndex((l) => l.includes(UNKNOWN));
  return { line: i + 1, col: lines[i]!.indexOf(UNKNOWN) + 1 };
})();

let s: Session;

before(async () => {
  s = new Session(loadEnv(), { name: "templates", files: { [FILE]: TEMPLATE } });
  await s.start();
});

after(async () => {
  if (s) {
    await s.screenshot("final").catch(() => undefined);
    const log = await s.readLog();
    if (log) process.stderr.write(`[e2e] Preflab log (templates):\n${log}\n`);
    await s.stop();
  }
});

/** Monaco renders spaces as no-break spaces. */
const plain = (t: string) => t.replace(/\u00a0/g, " ");

/** Polls `read` until `ok` holds or the time is up; returns the last value read. */
async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeout: number): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 300));
  }
}

test("a template with an unknown placeholder shows its diagnostic in the Problems panel", { timeout: 180_000 }, async () => {
  const page = s.page;
  // Open the file from the Explorer (Quick Open is unreliable in headless code-server).
  const row = page.locator(".explorer-folders-view .monaco-list-row", { hasText: FILE }).first();
  // The Explorer is normally open on a folder; if the row is not there soon, show it (a command,
  // not a click on its activity-bar icon, which would hide an open side bar).
  for (let attempt = 0; ; attempt++) {
    try {
      await row.waitFor({ timeout: attempt === 0 ? 15_000 : 30_000 });
      break;
    } catch (e) {
      if (attempt >= 2) throw e;
      await s.palette("View: Show Explorer");
    }
  }
  await row.click();
  await page.locator(".tab", { hasText: FILE }).first().waitFor({ timeout: 30_000 });
  await page.locator(".editor-instance .view-lines").first().waitFor({ timeout: 30_000 });
  await page.waitForFunction(`(document.querySelector(".editor-instance .view-lines")?.textContent ?? "").includes("respons_c")`, undefined, { timeout: 30_000 });
  // The .ptpl extension maps to the Preflab language (status bar language indicator).
  await page.locator(".statusbar-item", { hasText: "Preflab Prompt Template" }).first().waitFor({ timeout: 30_000 });

  // The language server's diagnostic: a squiggle in the editor and an entry in the Problems panel.
  await page.locator(".editor-instance .squiggly-error").first().waitFor({ state: "attached", timeout: 90_000 });
  await page.keyboard.press("Control+Shift+M");
  const markers = page.locator(".markers-panel");
  await markers.first().waitFor({ timeout: 30_000 });
  const text = await poll(
    async () => plain(await markers.first().innerText().catch(() => "")),
    (t) => t.includes(`unknown placeholder ${UNKNOWN}`) && /Ln \d+, Col \d+/.test(t),
    60_000,
  );
  await s.screenshot("problems");
  assert.ok(text.includes(`unknown placeholder ${UNKNOWN} for a reward-model template; known: ${PLACEHOLDERS.join(", ")}`), `the diagnostic in the Problems panel:\n${text}`);
  assert.match(text, /preflab\s*\(?\s*unknown-placeholder\b/, `source and code in the Problems panel:\n${text}`);
  assert.ok(text.includes(`[Ln ${unknownAt.line}, Col ${unknownAt.col}]`), `position Ln ${unknownAt.line}, Col ${unknownAt.col} in the Problems panel:\n${text}`);
  // That is the only problem: the template is otherwise complete.
  const rows = await markers.first().locator(".monaco-list-row").allInnerTexts();
  const problems = rows.filter((r) => /Ln \d+, Col \d+/.test(r));
  assert.equal(problems.length, 1, `one problem listed:\n${rows.join("\n---\n")}`);
});

test("the template shows its code lenses", { timeout: 120_000 }, async () => {
  const lens = s.page.locator(".editor-instance .codelens-decoration", { hasText: "Preview Rendered Prompt" }).first();
  await lens.waitFor({ timeout: 60_000 });
  const all = plain(await s.page.locator(".editor-instance .codelens-decoration").first().innerText());
  assert.match(all, /Preview Rendered Prompt/);
  assert.match(all, /Run on \d+ samples/);
  await s.screenshot("code-lens");
});

test("typing {{ offers the reward-model placeholders", { timeout: 180_000 }, async () => {
  const page = s.page;
  const suggestions = page.locator(".suggest-widget.visible .monaco-list-row .label-name");
  const labels = async () => (await suggestions.allInnerTexts().catch(() => [] as string[])).map((l) => plain(l).trim());
  const file = path.join(s.workspace, FILE);
  const editor = page.locator(".editor-instance .view-lines").first();
  // Focus the editor, go to the end of the text and type "{{" (the language configuration closes
  // it: "{{}}", the cursor in between). The server's trigger character "{" opens the suggest widget.
  await page.keyboard.press("Escape");
  await editor.click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type("{{");
  let seen = await poll(labels, (l) => PLACEHOLDERS.every((p) => l.includes(p)), 45_000);
  if (!PLACEHOLDERS.every((p) => seen.includes(p))) {
    // Keys can get lost while the workbench is busy: see what reached the document (save it),
    // complete the "{{" if needed and ask for suggestions explicitly.
    await s.screenshot("no-suggest");
    await page.keyboard.press("Escape");
    await editor.click();
    await page.keyboard.press("Control+S");
    await poll(async () => readFileSync(file, "utf8"), (t) => t !== TEMPLATE, 5_000);
    const tail = readFileSync(file, "utf8").slice(TEMPLATE.length);
    process.stderr.write(`[e2e] no suggest widget after typing "{{"; the document's new tail: ${JSON.stringify(tail)}\n`);
    await page.keyboard.press("Control+End");
    if (tail === "{{}}") for (let i = 0; i < 2; i++) await page.keyboard.press("ArrowLeft");
    else if (tail === "{") await page.keyboard.type("{");
    else if (tail === "") await page.keyboard.type("{{");
    await page.keyboard.press("Control+Space");
    seen = await poll(labels, (l) => PLACEHOLDERS.every((p) => l.includes(p)), 45_000);
  }
  await s.screenshot("completion");
  assert.deepEqual([...seen].sort(), [...PLACEHOLDERS].sort(), `the suggest widget offers exactly the reward-model placeholders: ${JSON.stringify(seen)}`);
  // Accepting one fills the slot: "{{<name>}}" on the last line, no "}}" left over.
  await page.keyboard.press("Enter");
  await s.page.locator(".suggest-widget.visible").waitFor({ state: "hidden", timeout: 30_000 });
  await page.keyboard.press("Control+S");
  const filled = new RegExp(`^\\{\\{(${PLACEHOLDERS.join("|")})\\}\\}$`);
  const saved = await poll(async () => readFileSync(file, "utf8"), (t) => filled.test(t.slice(TEMPLATE.length)), 30_000);
  await s.screenshot("completion-accepted");
  assert.ok(saved.startsWith(TEMPLATE), `the saved file keeps the template:\n${saved}`);
  assert.match(saved.slice(TEMPLATE.length), filled, `the accepted placeholder at the end of the saved file:\n${saved}`);
});
