/**
 * Test harness for the webview bundles outside VS Code: a node:http server on 127.0.0.1 that serves
 * dist/webview/* inside an HTML page with a stub `acquireVsCodeApi` (records posted messages,
 * keeps getState/setState in sessionStorage so that it survives a reload, as VS Code's does), the
 * VS Code theme variables of a light, dark or high-contrast theme, and optionally a nonce CSP like
 * the one the extension host sets. Chromium (Debian's) is driven through playwright-core.
 */
import { createServer, type Server } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { chromium, type Browser, type Page, type Request } from "playwright-core";

export const ROOT = path.resolve(__dirname, "../..");
export const SHOTS = path.join(ROOT, "test-results", "webview");
export type Theme = "light" | "dark" | "hc";
export type View = "triple" | "dashboard" | "experiment";

const THEMES: Record<Theme, { bodyClass: string; vars: Record<string, string> }> = {
  dark: {
    bodyClass: "vscode-dark",
    vars: {
      "settings-textInputBackground": "#313131",
      "settings-textInputForeground": "#cccccc",
      "settings-textInputBorder": "#3c3c3c",
      "settings-dropdownBackground": "#313131",
      "settings-dropdownForeground": "#cccccc",
      "settings-dropdownBorder": "#3c3c3c",
      "settings-dropdownListBorder": "#454545",
      "font-family": "-apple-system, BlinkMacSystemFont, 'Segoe WPC', 'Segoe UI', 'Ubuntu', 'Droid Sans', sans-serif",
      "font-size": "13px",
      "font-weight": "normal",
      "editor-font-family": "'Droid Sans Mono', 'monospace', monospace",
      "editor-font-size": "12px",
      foreground: "#cccccc",
      "editor-background": "#1f1f1f",
      "editor-foreground": "#cccccc",
      "sideBar-background": "#181818",
      "panel-background": "#181818",
      "panel-border": "#2b2b2b",
      "widget-border": "#313131",
      "descriptionForeground": "#9d9d9d",
      "focusBorder": "#0078d4",
      "button-background": "#0078d4",
      "button-foreground": "#ffffff",
      "button-hoverBackground": "#026ec1",
      "button-secondaryBackground": "#313131",
      "button-secondaryForeground": "#cccccc",
      "button-secondaryHoverBackground": "#3c3c3c",
      "button-border": "#ffffff12",
      "input-background": "#313131",
      "input-foreground": "#cccccc",
      "input-border": "#3c3c3c",
      "input-placeholderForeground": "#989898",
      "badge-background": "#616161",
      "badge-foreground": "#f8f8f8",
      "textLink-foreground": "#4daafc",
      "textLink-activeForeground": "#4daafc",
      "textCodeBlock-background": "#2b2b2b",
      "textBlockQuote-border": "#616161",
      "errorForeground": "#f85149",
      "testing-iconPassed": "#73c991",
      "testing-iconFailed": "#f14c4c",
      "charts-foreground": "#cccccc",
      "charts-lines": "#cccccc80",
      "charts-red": "#f14c4c",
      "charts-blue": "#3794ff",
      "charts-yellow": "#cca700",
      "charts-orange": "#d18616",
      "charts-green": "#89d185",
      "charts-purple": "#b180d7",
      "editorWidget-background": "#202020",
      "editorWidget-border": "#313131",
      "widget-shadow": "#0000005c",
      "list-hoverBackground": "#2a2d2e",
      "list-activeSelectionBackground": "#04395e",
      "list-activeSelectionForeground": "#ffffff",
      "settings-headerBorder": "#2b2b2b",
      "sideBarSectionHeader-background": "#181818",
      "sideBarTitle-foreground": "#cccccc",
      "icon-foreground": "#cccccc",
      "dropdown-background": "#313131",
      "dropdown-border": "#3c3c3c",
      "dropdown-foreground": "#cccccc",
      "panelTitle-activeForeground": "#cccccc",
      "panelTitle-activeBorder": "#0078d4",
      "panelTitle-inactiveForeground": "#9d9d9d",
      "list-focusOutline": "#0078d4",
      "contrastBorder": "transparent",
    },
  },
  light: {
    bodyClass: "vscode-light",
    vars: {
      "settings-textInputBackground": "#ffffff",
      "settings-textInputForeground": "#3b3b3b",
      "settings-textInputBorder": "#cecece",
      "settings-dropdownBackground": "#ffffff",
      "settings-dropdownForeground": "#3b3b3b",
      "settings-dropdownBorder": "#cecece",
      "settings-dropdownListBorder": "#c8c8c8",
      "font-family": "-apple-system, BlinkMacSystemFont, 'Segoe WPC', 'Segoe UI', 'Ubuntu', 'Droid Sans', sans-serif",
      "font-size": "13px",
      "font-weight": "normal",
      "editor-font-family": "'Droid Sans Mono', 'monospace', monospace",
      "editor-font-size": "12px",
      foreground: "#3b3b3b",
      "editor-background": "#ffffff",
      "editor-foreground": "#3b3b3b",
      "sideBar-background": "#f8f8f8",
      "panel-background": "#f8f8f8",
      "panel-border": "#e5e5e5",
      "widget-border": "#e5e5e5",
      "descriptionForeground": "#6f6f6f",
      "focusBorder": "#005fb8",
      "button-background": "#005fb8",
      "button-foreground": "#ffffff",
      "button-hoverBackground": "#0258a8",
      "button-secondaryBackground": "#e5e5e5",
      "button-secondaryForeground": "#3b3b3b",
      "button-secondaryHoverBackground": "#cccccc",
      "button-border": "#0000001a",
      "input-background": "#ffffff",
      "input-foreground": "#3b3b3b",
      "input-border": "#cecece",
      "input-placeholderForeground": "#767676",
      "badge-background": "#cccccc",
      "badge-foreground": "#3b3b3b",
      "textLink-foreground": "#005fb8",
      "textLink-activeForeground": "#005fb8",
      "textCodeBlock-background": "#f0f0f0",
      "textBlockQuote-border": "#e5e5e5",
      "errorForeground": "#a1260d",
      "testing-iconPassed": "#388a34",
      "testing-iconFailed": "#f14c4c",
      "charts-foreground": "#616161",
      "charts-lines": "#61616180",
      "charts-red": "#e51400",
      "charts-blue": "#1a85ff",
      "charts-yellow": "#bf8803",
      "charts-orange": "#d18616",
      "charts-green": "#388a34",
      "charts-purple": "#652d90",
      "editorWidget-background": "#f8f8f8",
      "editorWidget-border": "#c8c8c8",
      "widget-shadow": "#00000029",
      "list-hoverBackground": "#f2f2f2",
      "list-activeSelectionBackground": "#e8e8e8",
      "list-activeSelectionForeground": "#000000",
      "settings-headerBorder": "#e5e5e5",
      "sideBarSectionHeader-background": "#f8f8f8",
      "sideBarTitle-foreground": "#3b3b3b",
      "icon-foreground": "#3b3b3b",
      "dropdown-background": "#ffffff",
      "dropdown-border": "#cecece",
      "dropdown-foreground": "#3b3b3b",
      "panelTitle-activeForeground": "#3b3b3b",
      "panelTitle-activeBorder": "#005fb8",
      "panelTitle-inactiveForeground": "#3b3b3b",
      "list-focusOutline": "#005fb8",
      "contrastBorder": "transparent",
    },
  },
  hc: {
    bodyClass: "vscode-high-contrast",
    vars: {
      "panelTitle-activeForeground": "#ffffff",
      "panelTitle-activeBorder": "#f38518",
      "panelTitle-inactiveForeground": "#ffffff",
      "settings-textInputBackground": "#000000",
      "settings-textInputForeground": "#ffffff",
      "settings-textInputBorder": "#6fc3df",
      "settings-dropdownBackground": "#000000",
      "settings-dropdownForeground": "#ffffff",
      "settings-dropdownBorder": "#6fc3df",
      "settings-dropdownListBorder": "#6fc3df",
      "font-family": "-apple-system, BlinkMacSystemFont, 'Segoe WPC', 'Segoe UI', 'Ubuntu', 'Droid Sans', sans-serif",
      "font-size": "13px",
      "font-weight": "normal",
      "editor-font-family": "'Droid Sans Mono', 'monospace', monospace",
      "editor-font-size": "12px",
      foreground: "#ffffff",
      "editor-background": "#000000",
      "editor-foreground": "#ffffff",
      "sideBar-background": "#000000",
      "panel-background": "#000000",
      "panel-border": "#6fc3df",
      "widget-border": "#6fc3df",
      "descriptionForeground": "#ffffffb3",
      "focusBorder": "#f38518",
      "button-background": "#000000",
      "button-foreground": "#ffffff",
      "button-border": "#6fc3df",
      "button-secondaryBackground": "#000000",
      "button-secondaryForeground": "#ffffff",
      "input-background": "#000000",
      "input-foreground": "#ffffff",
      "input-border": "#6fc3df",
      "badge-background": "#000000",
      "badge-foreground": "#ffffff",
      "textLink-foreground": "#21a6ff",
      "textCodeBlock-background": "#000000",
      "errorForeground": "#f48771",
      "testing-iconPassed": "#73c991",
      "testing-iconFailed": "#f14c4c",
      "charts-foreground": "#ffffff",
      "charts-red": "#f14c4c",
      "charts-blue": "#3794ff",
      "charts-yellow": "#cca700",
      "charts-orange": "#d18616",
      "charts-green": "#89d185",
      "charts-purple": "#b180d7",
      "editorWidget-background": "#0c141f",
      "editorWidget-border": "#6fc3df",
      "list-activeSelectionBackground": "#000000",
      "contrastBorder": "#6fc3df",
      "contrastActiveBorder": "#f38518",
      "settings-headerBorder": "#6fc3df",
      "icon-foreground": "#ffffff",
      "dropdown-background": "#000000",
      "dropdown-border": "#6fc3df",
      "dropdown-foreground": "#ffffff",
    },
  },
};

export interface PageOptions {
  theme?: Theme;
  /** Set a nonce CSP like the extension host's (default: none, so that sanitizing alone is tested). */
  csp?: boolean;
  /** Allow inline style attributes under the CSP (style-src 'unsafe-inline'). */
  cspUnsafeInlineStyle?: boolean;
  width?: number;
  height?: number;
}

function stubScript(): string {
  return `
window.__posted = [];
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI));
(() => {
  let acquired = false;
  const KEY = "vscode-webview-state";
  window.acquireVsCodeApi = () => {
    if (acquired) throw new Error("An instance of the VS Code API has already been acquired");
    acquired = true;
    return Object.freeze({
      postMessage: (m) => window.__posted.push(JSON.parse(JSON.stringify(m))),
      getState: () => { const s = sessionStorage.getItem(KEY); return s ? JSON.parse(s) : undefined; },
      setState: (s) => { sessionStorage.setItem(KEY, JSON.stringify(s)); return s; },
    });
  };
})();
// Host -> webview: VS Code serializes messages as JSON (NaN becomes null).
window.__host = (m) => window.postMessage(JSON.parse(JSON.stringify(m)), "*");
`;
}

export function pageHtml(view: View, origin: string, opts: PageOptions = {}): string {
  const theme = THEMES[opts.theme ?? "dark"];
  const style = Object.entries(theme.vars).map(([k, v]) => `--vscode-${k}: ${v};`).join(" ");
  const nonce = "n0nc3TEST";
  const csp = opts.csp
    ? `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; font-src ${origin}; style-src ${origin}${opts.cspUnsafeInlineStyle ? " 'unsafe-inline'" : ""}; script-src 'nonce-${nonce}';">`
    : "";
  return `<!doctype html>
<html lang="en" style="${style}">
<head>
<meta charset="utf-8">
${csp}
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/dist/webview/${view}.css">
<script nonce="${nonce}">${stubScript()}</script>
<title>Preflab ${view}</title>
</head>
<body class="${theme.bodyClass}" data-vscode-theme-kind="${theme.bodyClass}">
<div id="app"></div>
<script nonce="${nonce}" src="/dist/webview/${view}.js"></script>
</body>
</html>`;
}

export class Harness {
  private constructor(
    readonly server: Server,
    readonly origin: string,
    readonly browser: Browser,
  ) {}

  static async start(): Promise<Harness> {
    for (const f of ["triple.js", "triple.css", "dashboard.js", "dashboard.css", "experiment.js", "experiment.css"]) {
      if (!existsSync(path.join(ROOT, "dist/webview", f))) throw new Error(`dist/webview/${f} is missing: run \`npm run build\` first`);
    }
    let origin = "";
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", origin);
      const m = /^\/(triple|dashboard|experiment)\.html$/.exec(url.pathname);
      if (m) {
        const opts: PageOptions = {
          theme: (url.searchParams.get("theme") as Theme | null) ?? "dark",
          csp: url.searchParams.has("csp"),
          cspUnsafeInlineStyle: url.searchParams.has("inline"),
        };
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
        res.end(pageHtml(m[1] as View, origin, opts));
        return;
      }
      const f = /^\/dist\/webview\/([\w.-]+\.(js|css|map))$/.exec(url.pathname);
      if (f && existsSync(path.join(ROOT, "dist/webview", f[1]!))) {
        const type = f[2] === "js" ? "text/javascript" : f[2] === "css" ? "text/css" : "application/json";
        res.writeHead(200, { "content-type": `${type}; charset=utf-8`, "cache-control": "no-store" });
        res.end(readFileSync(path.join(ROOT, "dist/webview", f[1]!)));
        return;
      }
      res.writeHead(url.pathname === "/favicon.ico" ? 204 : 404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const addr = server.address();
    if (!addr || typeof addr === "string") throw new Error("no server address");
    origin = `http://127.0.0.1:${addr.port}`;
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    return new Harness(server, origin, browser);
  }

  /** Opens a view; `requests` records every URL the page asks for, `errors` every page error. */
  async open(view: View, opts: PageOptions = {}): Promise<{ page: Page; requests: string[]; errors: string[] }> {
    const page = await this.browser.newPage({ viewport: { width: opts.width ?? 1400, height: opts.height ?? 900 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on("request", (r: Request) => requests.push(r.url()));
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    const q = new URLSearchParams({ theme: opts.theme ?? "dark" });
    if (opts.csp) q.set("csp", "1");
    if (opts.cspUnsafeInlineStyle) q.set("inline", "1");
    await page.goto(`${this.origin}/${view}.html?${q.toString()}`);
    await page.waitForFunction(() => (globalThis as unknown as HarnessWindow).__posted.length > 0);
    return { page, requests, errors };
  }

  async close(): Promise<void> {
    await this.browser.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface HarnessWindow {
  __posted: { type: string; [k: string]: unknown }[];
  __cspViolations: string[];
  __host(m: unknown): void;
  __pwned?: string;
}

/**
 * The few browser globals the tests touch inside page callbacks, typed here because the root
 * tsconfig has no DOM lib (src/core must not see DOM types). Use as `(globalThis as unknown as Dom)`.
 */
export interface El {
  tagName: string;
  textContent: string | null;
  firstChild: El | null;
  children: ArrayLike<El>;
  attributes: ArrayLike<{ name: string; value: string }>;
  getAttribute(name: string): string | null;
  closest(selector: string): El | null;
  dispatchEvent(event: unknown): boolean;
}
export interface Dom extends HarnessWindow {
  document: { body: El; querySelector(selector: string): El | null; querySelectorAll(selector: string): ArrayLike<El>; getElementById(id: string): El | null };
  scrollY: number;
  scrollTo(x: number, y: number): void;
  sessionStorage: { getItem(key: string): string | null };
  getComputedStyle(el: El): { backgroundColor: string };
  Event: new (type: string) => unknown;
}

export async function posted(page: Page): Promise<HarnessWindow["__posted"]> {
  return page.evaluate(() => (globalThis as unknown as HarnessWindow).__posted);
}

/** Waits until a message of `type` is posted after the first `after` messages; returns it. */
export async function waitPosted(page: Page, type: string, after = 0): Promise<HarnessWindow["__posted"][number]> {
  const handle = await page.waitForFunction(
    ([t, n]) => (globalThis as unknown as HarnessWindow).__posted.slice(n).find((m) => m.type === t),
    [type, after] as const,
    { timeout: 5000 },
  );
  return (await handle.jsonValue()) as HarnessWindow["__posted"][number];
}

export async function postedCount(page: Page): Promise<number> {
  return page.evaluate(() => (globalThis as unknown as HarnessWindow).__posted.length);
}

export async function hostPost(page: Page, message: unknown): Promise<void> {
  await page.evaluate((m) => (globalThis as unknown as HarnessWindow).__host(m), message);
}

export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}
