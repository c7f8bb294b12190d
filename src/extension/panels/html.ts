/**
 * The HTML shell of a Preflab webview: a nonce-based CSP (scripts only from our bundle with the
 * nonce; styles, fonts and images only from the extension's webview origin, images also data:),
 * the bundle's CSS and JS through asWebviewUri, and `<div id="app">` for the UI to render into.
 * Remote content (an image link inside a model's output) cannot load under this policy.
 */
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";

export function nonce(): string {
  return randomBytes(18).toString("base64").replace(/[^A-Za-z0-9]/g, "");
}

/** Folders a panel may load from: the webview bundles only (never the workspace). */
export function localRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, "dist", "webview")];
}

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  // No command: links (a command URI in rendered text would run a command), no forms.
  return { enableScripts: true, enableCommandUris: false, enableForms: false, localResourceRoots: localRoots(extensionUri), retainContextWhenHidden: false, enableFindWidget: true };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, bundle: "triple" | "dashboard" | "experiment", title: string): string {
  const n = nonce();
  const asset = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...p)).toString();
  const csp = [
    "default-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-src 'none'",
    "connect-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
    `style-src ${webview.cspSource}`,
    `script-src 'nonce-${n}'`,
  ].join("; ");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${esc(asset("dist", "webview", `${bundle}.css`))}">
<title>${esc(title)}</title>
</head>
<body>
<div id="app"></div>
<script nonce="${n}" src="${esc(asset("dist", "webview", `${bundle}.js`))}"></script>
</body>
</html>`;
}

/** JSON-safe copy (NaN and Infinity become null), as the webview would receive it anyway. */
export function jsonSafe<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v))) as T;
}
