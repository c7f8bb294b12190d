/**
 * The extension manifest (package.json) against the host code: the command registry, views,
 * welcome content, walkthrough, settings schema and workspace-trust capability agree. Plain Node:
 * only the host's vscode-free modules are imported.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { ALL_COMMANDS, INTERNAL_COMMANDS, PALETTE_COMMANDS, registerCommands, type CommandId, type Feature } from "../../src/extension/commands.js";
import { readConfig } from "../../src/extension/config.js";

interface Contributes {
  commands: { command: string; title: string; category?: string; icon?: string }[];
  menus: Record<string, { command: string; when?: string; group?: string }[]>;
  viewsContainers: { activitybar: { id: string; title: string; icon: string }[] };
  views: Record<string, { id: string; name: string }[]>;
  viewsWelcome: { view: string; contents: string; when?: string }[];
  configuration: { properties: Record<string, { type: unknown; default: unknown; enum?: unknown[] }> };
  walkthroughs: { id: string; steps: { id: string; description: string; media: { markdown?: string; image?: string } }[] }[];
}

const root = path.resolve(__dirname, "..", "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  name: string;
  publisher: string;
  main: string;
  icon: string;
  activationEvents: string[];
  capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] }; virtualWorkspaces: unknown };
  contributes: Contributes;
};
const c = pkg.contributes;
/** Commands other features contribute (the template language). */
const OTHER_FEATURES = new Set(["preflab.previewTemplate", "preflab.runTemplateSample"]);

test("every registry command is contributed, in the Preflab category; internal ones are hidden from the palette", () => {
  const contributed = new Map(c.commands.map((x) => [x.command, x]));
  for (const id of ALL_COMMANDS) {
    const cmd = contributed.get(id);
    assert.ok(cmd, `${id} is in contributes.commands`);
    assert.equal(cmd.category, "Preflab", `${id} category`);
  }
  for (const x of c.commands) {
    if (OTHER_FEATURES.has(x.command)) continue;
    assert.ok((ALL_COMMANDS as readonly string[]).includes(x.command), `contributed ${x.command} is in the registry`);
  }
  const hidden = new Set(c.menus.commandPalette!.filter((m) => m.when === "false").map((m) => m.command));
  for (const id of INTERNAL_COMMANDS) assert.ok(hidden.has(id), `${id} hidden from the palette`);
  for (const id of PALETTE_COMMANDS) assert.ok(!hidden.has(id), `${id} visible in the palette`);
  assert.equal(PALETTE_COMMANDS.length, 18);
});

test("menus only name contributed commands; icons exist where a command shows inline or in a view title", () => {
  const contributed = new Map(c.commands.map((x) => [x.command, x]));
  for (const [where, items] of Object.entries(c.menus)) {
    for (const m of items) {
      const cmd = contributed.get(m.command);
      assert.ok(cmd, `${where}: ${m.command} is contributed`);
      if ((where === "view/title" && m.group?.startsWith("navigation")) || m.group?.startsWith("inline")) assert.ok(cmd.icon, `${m.command} has an icon for ${where}`);
    }
  }
});

test("the activity-bar container, its views, welcome content and the walkthrough", () => {
  assert.deepEqual(c.viewsContainers.activitybar.map((v) => [v.id, v.title]), [["preflab", "Preflab"]]);
  assert.ok(existsSync(path.join(root, c.viewsContainers.activitybar[0]!.icon)));
  assert.deepEqual(c.views.preflab!.map((v) => [v.id, v.name]).slice(0, 2), [["preflab.users", "Synthetic Users"], ["preflab.runs", "Runs"]]);
  assert.ok(c.views.preflab!.some((v) => v.id === "preflab.finetuneJobs"), "the fine-tuning jobs view");
  const welcome = c.viewsWelcome.find((w) => w.view === "preflab.users")!;
  assert.equal(welcome.when, "!preflab.datasetOpen");
  assert.match(welcome.contents, /\[Build from Bundled Sample\]\(command:preflab\.buildDataset\?%5B%22sample%22%5D\)/);
  assert.match(welcome.contents, /\(command:preflab\.buildDataset\?%5B%22files%22%5D\)/);
  // Every command link in welcome content and walkthrough steps resolves.
  const known = new Set<string>([...ALL_COMMANDS, "preflab.users.focus", "preflab.runs.focus", "workbench.action.openWalkthrough"]);
  const texts = [...c.viewsWelcome.map((w) => w.contents), ...c.walkthroughs.flatMap((w) => w.steps.map((s) => s.description))];
  for (const t of texts) for (const m of t.matchAll(/\(command:([\w.]+)/g)) assert.ok(known.has(m[1]!), `link to ${m[1]}`);
  const walk = c.walkthroughs[0]!;
  assert.match(decodeURIComponent(welcome.contents), new RegExp(`${pkg.publisher}\\.${pkg.name}#${walk.id}`));
  for (const s of walk.steps) assert.ok(existsSync(path.join(root, s.media.markdown!)), `${s.media.markdown} exists`);
  assert.ok(existsSync(path.join(root, pkg.icon)), "extension icon");
  assert.equal(pkg.main, "./dist/extension.js");
  for (const e of ["onWebviewPanel:preflab.triple", "onWebviewPanel:preflab.dashboard", "onWebviewPanel:preflab.experiment"]) assert.ok(pkg.activationEvents.includes(e), e);
  assert.ok(!pkg.activationEvents.includes("*"), "no * activation");
});

test("workspace trust is limited, and restricted settings exist in the schema", () => {
  assert.equal(pkg.capabilities.untrustedWorkspaces.supported, "limited");
  for (const key of pkg.capabilities.untrustedWorkspaces.restrictedConfigurations) assert.ok(c.configuration.properties[key], `${key} is a setting`);
  for (const key of ["preflab.llamacpp.modelPath", "preflab.openaiCompatible.baseUrl", "preflab.openai.baseUrl"]) {
    assert.ok(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations.includes(key), `${key} is restricted`);
  }
});

test("a base URL (where a key goes) is a user or remote setting only: a workspace cannot redirect a key", () => {
  const urls = Object.entries(c.configuration.properties).filter(([k]) => /baseUrl$/i.test(k));
  assert.ok(urls.length >= 3, "the three base URL settings");
  for (const [k, v] of urls) {
    const scope = (v as { scope?: string }).scope;
    assert.ok(scope === "machine" || scope === "application", `${k} has scope ${scope}; must be machine or application`);
  }
});

test("every setting the config module reads is in the schema, with a default readConfig accepts", () => {
  const asked = new Set<string>();
  const defaults = new Map(Object.entries(c.configuration.properties).map(([k, v]) => [k.replace(/^preflab\./, ""), v.default]));
  const cfg = readConfig({
    get<T>(key: string): T | undefined {
      asked.add(key);
      return defaults.get(key) as T | undefined;
    },
  });
  for (const key of asked) assert.ok(c.configuration.properties[`preflab.${key}`], `preflab.${key} is declared`);
  for (const key of Object.keys(c.configuration.properties)) assert.ok(asked.has(key.replace(/^preflab\./, "")), `${key} is read by config.ts`);
  // Schema defaults and the module's own defaults agree.
  assert.deepEqual(readConfig({ get: () => undefined }), cfg);
  for (const key of Object.keys(c.configuration.properties)) assert.ok(!/apiKey|secret|token$/i.test(key), `${key}: no keys in settings`);
});

test("registerCommands registers every command once, wrapped, and refuses gaps and clashes", () => {
  const all = Object.fromEntries(ALL_COMMANDS.map((id) => [id, () => id]));
  const registered: string[] = [];
  const calls: string[] = [];
  const disposables = registerCommands(
    (id) => {
      registered.push(id);
      return { dispose() {} };
    },
    [{ name: "a", commands: () => all }],
    (id, h) => (...args: unknown[]) => {
      calls.push(id);
      return h(...args);
    },
  );
  assert.equal(disposables.length, ALL_COMMANDS.length);
  assert.deepEqual([...registered].sort(), [...ALL_COMMANDS].sort());
  const missing: Feature = { name: "partial", commands: () => ({ "preflab.showLog": () => 1 }) };
  assert.throws(() => registerCommands(() => ({ dispose() {} }), [missing]), /commands without a handler/);
  const clash: Feature[] = [
    { name: "a", commands: () => all },
    { name: "b", commands: () => ({ "preflab.showLog": () => 2 }) },
  ];
  assert.throws(() => registerCommands(() => ({ dispose() {} }), clash), /preflab\.showLog is registered by both a and b/);
  const unknown: Feature = { name: "x", commands: () => ({ ...all, ["preflab.nope" as CommandId]: () => 0 }) };
  assert.throws(() => registerCommands(() => ({ dispose() {} }), [unknown]), /unknown command preflab\.nope/);
});
