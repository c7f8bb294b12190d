/**
 * The real-VS-Code harness (docs/ARCHITECTURE.md, "Testing"): code-server with the packaged .vsix installed
 * into a fresh temp profile, driven by playwright-core + Debian chromium. `scripts/e2e-setup.sh`
 * installs code-server / node 24 / chromium and packages the .vsix first, and writes
 * test-results/e2e/env.json with their paths.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { chromium, type Browser, type Frame, type Locator, type Page } from "playwright-core";

export const ROOT = path.resolve(__dirname, "..", "..");
export const RESULTS = path.join(ROOT, "test-results", "e2e");

/** process.env without what node:test sets for its own child processes (it breaks other Node programs' stdout). */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  return env;
}

export interface E2eEnv {
  node: string;
  nodeBin: string;
  codeServer: string;
  chromium: string;
  vsix: string;
}

export function loadEnv(): E2eEnv {
  const file = path.join(RESULTS, "env.json");
  if (!existsSync(file)) throw new Error(`${file} is missing: run scripts/e2e-setup.sh first (npm run test:e2e does)`);
  return JSON.parse(readFileSync(file, "utf8")) as E2eEnv;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export interface SessionOptions {
  /** Start with workspace trust enabled (default: --disable-workspace-trust). */
  trust?: boolean;
  /** Extra user settings. */
  settings?: Record<string, unknown>;
  /** Files to create in the workspace folder before start. */
  files?: Record<string, string>;
  name: string;
}

export class Session {
  readonly home: string;
  readonly workspace: string;
  private server: ChildProcess | undefined;
  private browser: Browser | undefined;
  page!: Page;
  url = "";
  serverLog = "";
  private shot = 0;

  constructor(
    readonly env: E2eEnv,
    readonly opts: SessionOptions,
  ) {
    this.home = mkdtempSync(path.join(tmpdir(), `preflab-e2e-${opts.name}-`));
    this.workspace = path.join(this.home, "workspace");
    mkdirSync(this.workspace, { recursive: true });
    for (const [rel, text] of Object.entries(opts.files ?? {})) {
      mkdirSync(path.dirname(path.join(this.workspace, rel)), { recursive: true });
      writeFileSync(path.join(this.workspace, rel), text);
    }
  }

  private get processEnv(): NodeJS.ProcessEnv {
    return {
      ...cleanEnv(),
      PATH: `${this.env.nodeBin}:${process.env.PATH ?? ""}`,
      HOME: this.home,
      XDG_CONFIG_HOME: path.join(this.home, "config"),
      XDG_DATA_HOME: path.join(this.home, "data"),
      XDG_CACHE_HOME: path.join(this.home, "cache"),
      // No key may leak in from the machine running the tests.
      OPENAI_API_KEY: "",
      ANTHROPIC_API_KEY: "",
      OPENAI_COMPATIBLE_API_KEY: "",
    };
  }

  private get dirs(): string[] {
    return ["--user-data-dir", path.join(this.home, "user-data"), "--extensions-dir", path.join(this.home, "extensions")];
  }

  async start(): Promise<void> {
    const t0 = Date.now();
    const inst = spawnSync(this.env.codeServer, [...this.dirs, "--install-extension", this.env.vsix], { env: this.processEnv, encoding: "utf8", timeout: 120_000 });
    if (inst.status !== 0) throw new Error(`code-server --install-extension failed (${inst.status}): ${inst.stdout}\n${inst.stderr}`);
    process.stderr.write(`[e2e] vsix installed in ${Date.now() - t0} ms\n`);
    const settings = {
      "workbench.startupEditor": "none",
      "workbench.tips.enabled": false,
      "security.workspace.trust.startupPrompt": "never",
      "telemetry.telemetryLevel": "off",
      "extensions.autoCheckUpdates": false,
      "extensions.autoUpdate": false,
      "update.mode": "none",
      "workbench.enableExperiments": false,
      "chat.disableAIFeatures": true,
      "window.restoreWindows": "none",
      "workbench.secondarySideBar.defaultVisibility": "hidden",
      "workbench.reduceMotion": "on",
      ...this.opts.settings,
    };
    // Also as Machine (remote) settings: code-server's window is a remote one, where settings of
    // scope machine / machine-overridable (paths, base URLs) apply only from there.
    for (const scope of ["User", "Machine"]) {
      mkdirSync(path.join(this.home, "user-data", scope), { recursive: true });
      writeFileSync(path.join(this.home, "user-data", scope, "settings.json"), JSON.stringify(settings, null, 2));
    }

    const port = await freePort();
    const args = [...this.dirs, "--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--disable-telemetry", "--disable-update-check", "--disable-getting-started-override"];
    if (!this.opts.trust) args.push("--disable-workspace-trust");
    args.push(this.workspace);
    this.server = spawn(this.env.codeServer, args, { env: this.processEnv, stdio: ["ignore", "pipe", "pipe"] });
    const onData = (b: Buffer) => {
      this.serverLog += b.toString();
    };
    this.server.stdout!.on("data", onData);
    this.server.stderr!.on("data", onData);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (this.server.exitCode !== null) throw new Error(`code-server exited (${this.server.exitCode}):\n${this.serverLog}`);
      try {
        const r = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (r.ok) break;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw new Error(`code-server did not come up:\n${this.serverLog}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    this.url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(this.workspace)}`;
    this.browser = await chromium.launch({
      executablePath: this.env.chromium,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
    });
    const context = await this.browser.newContext({ viewport: { width: 1400, height: 900 } });
    this.page = await context.newPage();
    await this.page.goto(this.url);
    await this.page.locator(".monaco-workbench").waitFor({ timeout: 90_000 });
    await this.page.locator(".activitybar").waitFor({ timeout: 60_000 });
    process.stderr.write(`[e2e] workbench up in ${Date.now() - t0} ms\n`);
  }

  async screenshot(name: string): Promise<string> {
    mkdirSync(RESULTS, { recursive: true });
    const file = path.join(RESULTS, `${this.opts.name}-${String(++this.shot).padStart(2, "0")}-${name}.png`);
    await this.page.waitForTimeout(400); // let notifications and quick picks settle
    await this.page.screenshot({ path: file });
    return file;
  }

  /** Runs a command from the palette by its title ("Preflab: Show Log"). */
  async palette(title: string): Promise<void> {
    const page = this.page;
    const input = page.locator(".quick-input-widget .quick-input-box input");
    // Focus can sit inside a webview's iframe, which may swallow F1: after a failed try, click an
    // empty spot of the status bar (back in the workbench) and press again. A webview that takes
    // the focus back can also close the palette right after it opened: then the fill fails; retry.
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        const bar = await page.locator(".part.statusbar").boundingBox();
        if (bar) await page.mouse.click(bar.x + bar.width / 2, bar.y + bar.height / 2);
      }
      await page.keyboard.press("Escape");
      await page.keyboard.press(attempt % 2 === 0 ? "F1" : "Control+Shift+P");
      try {
        await input.waitFor({ state: "visible", timeout: 10_000 });
        await input.fill(`>${title}`, { timeout: 10_000 });
        break;
      } catch (e) {
        if (attempt >= 3) throw e;
        process.stderr.write(`[e2e] palette "${title}": try ${attempt + 1} failed (${(e as Error).message.split("\n")[0]}); again\n`);
      }
    }
    const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: title }).first();
    await row.waitFor({ state: "visible", timeout: 15_000 });
    await input.press("Enter");
  }

  /** Picks an item in the open quick pick by its visible label text. */
  async quickPick(label: string | RegExp, opts: { title?: string | RegExp; timeout?: number } = {}): Promise<void> {
    const page = this.page;
    const widget = page.locator(".quick-input-widget");
    await widget.waitFor({ state: "visible", timeout: opts.timeout ?? 30_000 });
    if (opts.title) await widget.locator(".quick-input-title").filter({ hasText: opts.title }).waitFor({ timeout: opts.timeout ?? 30_000 });
    const row = widget.locator(".monaco-list-row").filter({ hasText: label }).first();
    try {
      await row.waitFor({ state: "visible", timeout: opts.timeout ?? 30_000 });
    } catch (e) {
      await this.screenshot(`no-pick-${String(label).replace(/[^A-Za-z0-9]+/g, "_").slice(0, 30)}`);
      const rows = await widget.locator(".monaco-list-row").allInnerTexts().catch(() => []);
      throw new Error(`quick pick item ${String(label)} not found; the items: ${JSON.stringify(rows)}`, { cause: e });
    }
    await row.click();
  }

  /** The Preflab view container in the activity bar. */
  async openPreflab(): Promise<void> {
    const item = this.page.locator('.activitybar [role="tab"][aria-label^="Preflab"], .activitybar .action-label[aria-label^="Preflab"]').first();
    await item.waitFor({ timeout: 30_000 });
    const sidebarVisible = await this.page.locator('.sidebar .pane-header[aria-label*="Synthetic Users"], .sidebar .pane-header:has-text("Synthetic Users")').first().isVisible().catch(() => false);
    if (!sidebarVisible) await item.click();
  }

  view(name: string): Locator {
    return this.page.locator(".sidebar .pane").filter({ has: this.page.locator(".pane-header", { hasText: name }) });
  }

  /** Frames of webviews: VS Code nests the content in an iframe inside an iframe. */
  async webviewFrame(predicate: (f: Frame) => Promise<boolean>, timeout = 30_000): Promise<Frame> {
    const deadline = Date.now() + timeout;
    for (;;) {
      for (const f of this.page.frames()) {
        try {
          if (await predicate(f)) return f;
        } catch {
          /* detached or not ready */
        }
      }
      if (Date.now() > deadline) throw new Error("no webview frame matched");
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** Text of the Preflab output channel, as shown in the Output view. */
  async readLog(): Promise<string> {
    const logs = path.join(this.home, "user-data", "logs");
    const out: string[] = [];
    const walk = (d: string) => {
      if (!existsSync(d)) return;
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/Preflab\.log$/.test(e.name)) out.push(readFileSync(p, "utf8"));
      }
    };
    walk(logs);
    return out.join("\n");
  }

  async stop(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    if (this.server && this.server.exitCode === null) {
      this.server.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 500));
      if (this.server.exitCode === null) this.server.kill("SIGKILL");
    }
    if (!process.env.PREFLAB_E2E_KEEP) rmSync(this.home, { recursive: true, force: true });
  }
}
