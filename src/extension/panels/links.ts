/**
 * Opening a link found in untrusted text (a dataset row, a model's output, judge feedback): only
 * http and https, and only after the user has seen the full URL and confirmed. VS Code itself does
 * not ask for local addresses (http://127.0.0.1:...), so a click alone must never open one.
 */
import * as vscode from "vscode";

/** The URL if `href` is an absolute http(s) URL (no credentials), else undefined. Pure. */
export function webLink(href: string): URL | undefined {
  let u: URL;
  try {
    u = new URL(href.trim());
  } catch {
    return undefined;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
  // user:password@ hides the real host from a quick look (http://trusted.example@evil.example/).
  if (u.username || u.password) return undefined;
  return u;
}

/** Asks (modal, the full URL shown) and opens the link through VS Code; returns whether it opened. */
export async function openUntrustedLink(href: string, log: { warn(m: string): void }): Promise<boolean> {
  const u = webLink(href);
  if (!u) {
    log.warn(`ignored a link that is not http(s): ${JSON.stringify(href.slice(0, 200))}`);
    return false;
  }
  const full = u.toString();
  const pick = await vscode.window.showWarningMessage(
    "Open this link from untrusted text?",
    { modal: true, detail: `${full}\n\nThe link was in a dataset, a model's output or a run file, not written by Preflab. Open it only if you recognise the address (local addresses such as 127.0.0.1 reach services on your machine).` },
    "Open Link",
  );
  if (pick !== "Open Link") return false;
  return vscode.env.openExternal(vscode.Uri.parse(full, true));
}
