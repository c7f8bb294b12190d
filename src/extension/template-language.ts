/**
 * The `.ptpl` template language in the editor: starts the language server (dist/server.js, over
 * IPC) for documents of language `ptpl`, and implements the two commands its code lenses invoke:
 *
 * - `preflab.previewTemplate [uri] [{ userId?, datasetDir? }]`: renders the template (the editor's
 *   buffer, saved or not) with a synthetic user of the open dataset, exactly as the evaluations
 *   would, and opens the result read-only beside the template, with the token count against the
 *   input budget in its header. The preview follows edits of the template.
 * - `preflab.runTemplateSample [uri] [n]`: a small evaluation with this template (see
 *   src/server/sample-run.ts) into a new run folder, with progress and cancel.
 *
 * The host calls `activateTemplateLanguage` from `activate` and owns the returned disposables.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from "vscode-languageclient/node";
import type { RunGate } from "../app/gate.js";
import type { KeyDestinationPolicy } from "../app/origins.js";
import type { ResolvedProvider } from "../app/provider.js";
import type { RunnerSettings } from "../app/session.js";
import { parseTemplate } from "../core/templates/template.js";
import {
  PREVIEW_TEMPLATE_COMMAND,
  RUN_TEMPLATE_SAMPLE_COMMAND,
  TEMPLATE_PREVIEW_METHOD,
  TEMPLATE_SUBJECTS_METHOD,
  type TemplatePreviewParams,
  type TemplatePreviewResult,
  type TemplateRequests,
  type TemplateServerInitOptions,
} from "../protocol/templates.js";
import { runTemplateSample, SampleRunError } from "../server/sample-run.js";

export const PTPL_LANGUAGE_ID = "ptpl";
export const PREVIEW_SCHEME = "preflab-template-preview";
const LAST_USER_KEY = "preflab.templatePreview.lastUser";

export interface TemplateLanguageOptions {
  log: vscode.LogOutputChannel;
  /** The open dataset folder, if any (the commands ask for one otherwise). */
  datasetDir: () => string | undefined;
  /**
   * The model for "Run on N samples", validated by the session layer (with its API key, if it
   * needs one, and the strings to redact). Default: the no-network baseline.
   */
  provider?: () => Promise<ResolvedProvider | undefined>;
  /** The gate runs pass (the host's: workspace trust). */
  gate: RunGate;
  /** Where keys may go (a registered model's server needs confirming). */
  policy?: KeyDestinationPolicy;
  /** Parent folder of run folders. Default: <first workspace folder>/.preflab/runs, else the extension's global storage. */
  runsDir?: () => string;
  /** The configured runner settings (rate limits, retries, cache). Default: runner defaults, no cache. */
  runner?: () => RunnerSettings;
  /** N in "Run on N samples" (default 5). */
  sampleSize?: number;
  /** Refuses a dataset or run folder that leads out of the workspace in Restricted Mode (Services.checkFolder). */
  checkFolder?: (dir: string, what: string) => Promise<string>;
  /** Told about each finished sample run (e.g. to refresh a runs view). */
  onRunFinished?: (runDir: string) => void;
}

interface PreviewState {
  source: vscode.Uri;
  datasetDir: string;
  userId: string;
}

/** Read-only virtual documents holding rendered previews. */
class PreviewDocuments implements vscode.TextDocumentContentProvider {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly contents = new Map<string, string>();
  readonly states = new Map<string, PreviewState>();

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? "Preflab: this preview is gone; run “Preflab: Preview Rendered Prompt” again.";
  }

  uriFor(source: vscode.Uri): vscode.Uri {
    const base = path.posix.basename(source.path) || "template";
    return vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `/${base} (rendered).txt`, query: source.toString() });
  }

  set(uri: vscode.Uri, content: string, state: PreviewState): void {
    this.contents.set(uri.toString(), content);
    this.states.set(uri.toString(), state);
    this.emitter.fire(uri);
  }

  forget(uri: vscode.Uri): void {
    this.contents.delete(uri.toString());
    this.states.delete(uri.toString());
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** The preview document: a header (who, what, tokens vs budget), then each message. */
export function formatPreview(r: TemplatePreviewResult, opts: { dirty: boolean }): string {
  const pct = r.maxInputTokens ? Math.round((r.tokens / r.maxInputTokens) * 100) : 0;
  const history = r.kind === "reward-model" || r.kind === "generation" ? ` · history: ${r.historyKept} pair(s) kept, ${r.historyDropped} dropped to fit` : "";
  const lines = [
    `Preflab preview — ${r.templateName} (${r.kind})${opts.dirty ? " — unsaved changes included" : ""}`,
    `User      ${r.userId} · ${r.dimension} · ${r.preference}`,
    `Triple    ${r.tripleId}`,
    `Dataset   ${r.datasetDir}`,
    `Tokens    ≈ ${fmt(r.tokens)} of ${fmt(r.maxInputTokens)} input tokens (${pct}%)${history}${r.overBudget ? " · OVER BUDGET: the evaluation would skip this item" : ""}`,
    ...r.notes.map((n, i) => `${i === 0 ? "Filled   " : "         "} ${n}`),
    `Template  sha256 ${r.templateHash.slice(0, 12)}…`,
    "═".repeat(78),
  ];
  for (const m of r.messages) lines.push("", `──── ${m.role} ${"─".repeat(Math.max(0, 72 - m.role.length))}`, m.content);
  return lines.join("\n") + "\n";
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The running template language: its disposables (owned by the host) and `stop`, which resolves once the language client and server stopped. */
export interface TemplateLanguage {
  disposables: vscode.Disposable[];
  stop(): Promise<void>;
}

export function activateTemplateLanguage(context: vscode.ExtensionContext, opts: TemplateLanguageOptions): TemplateLanguage {
  const log = opts.log;
  const sampleSize = opts.sampleSize ?? 5;
  const serverModule = context.asAbsolutePath(path.join("dist", "server.js"));
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ["--nolazy", "--inspect=6019"] } },
  };
  const initializationOptions: TemplateServerInitOptions = { sampleSize };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: PTPL_LANGUAGE_ID }],
    outputChannel: log,
    initializationOptions,
  };
  const client = new LanguageClient("preflab.templates", "Preflab Templates", serverOptions, clientOptions);
  const started: Promise<string | undefined> = client.start().then(
    () => undefined,
    (e: unknown) => {
      log.error(`template language server (${serverModule}) did not start: ${errorMessage(e)}`);
      return errorMessage(e);
    },
  );

  const request = async <M extends keyof TemplateRequests>(method: M, params: TemplateRequests[M]["params"]): Promise<TemplateRequests[M]["result"]> => {
    const failed = await started;
    if (failed !== undefined) throw new Error(`the template language server is not running (${failed})`);
    return client.sendRequest<TemplateRequests[M]["result"]>(method, params);
  };

  const previews = new PreviewDocuments();

  const templateDocument = async (arg: unknown): Promise<vscode.TextDocument | undefined> => {
    if (arg instanceof vscode.Uri || typeof arg === "string") {
      const uri = typeof arg === "string" ? vscode.Uri.parse(arg) : arg;
      return vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString()) ?? (await vscode.workspace.openTextDocument(uri));
    }
    const active = vscode.window.activeTextEditor?.document;
    if (active?.languageId === PTPL_LANGUAGE_ID) return active;
    void vscode.window.showErrorMessage("Preflab: open a .ptpl template first.");
    return undefined;
  };

  const datasetDir = async (given?: string): Promise<string | undefined> => {
    const dir = given ?? opts.datasetDir();
    if (dir) return dir;
    const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: "Use this dataset", title: "Preflab: choose a built dataset folder (with manifest.json)" });
    const chosen = picked?.[0]?.fsPath;
    if (chosen && !existsSync(path.join(chosen, "manifest.json"))) {
      void vscode.window.showErrorMessage(`Preflab: ${chosen} is not a Preflab dataset (no manifest.json); build one with “Preflab: Build Dataset”.`);
      return undefined;
    }
    return chosen;
  };

  const pickUser = async (dir: string): Promise<string | undefined> => {
    const { subjects, truncated } = await request(TEMPLATE_SUBJECTS_METHOD, { datasetDir: dir });
    if (subjects.length === 0) {
      void vscode.window.showErrorMessage(`Preflab: the dataset ${dir} has no synthetic users.`);
      return undefined;
    }
    if (subjects.length === 1) return subjects[0]!.userId;
    const last = context.workspaceState.get<string>(LAST_USER_KEY);
    const items = subjects.map((s) => ({
      label: s.userId,
      description: `${s.dimension} · member ${s.member} · ${s.historyPairs} history pairs${s.userId === last ? " · last used" : ""}`,
      detail: `${s.preference} — “${s.instruction}”`,
      userId: s.userId,
    }));
    const lastIndex = items.findIndex((i) => i.userId === last);
    if (lastIndex > 0) items.unshift(...items.splice(lastIndex, 1));
    const pick = await vscode.window.showQuickPick(items, {
      title: "Preflab: render the template for which synthetic user?",
      placeHolder: truncated ? `the first ${items.length} users; type to filter` : "type to filter by id, dimension, preference or instruction",
      matchOnDescription: true,
      matchOnDetail: true,
    });
    if (pick) await context.workspaceState.update(LAST_USER_KEY, pick.userId);
    return pick?.userId;
  };

  const render = async (doc: vscode.TextDocument, state: PreviewState): Promise<string> => {
    const params: TemplatePreviewParams = { text: doc.getText(), uri: doc.uri.toString(), datasetDir: state.datasetDir, userId: state.userId };
    const r = await request(TEMPLATE_PREVIEW_METHOD, params);
    return formatPreview(r, { dirty: doc.isDirty });
  };

  const preview = async (arg?: unknown, options?: { userId?: string; datasetDir?: string }): Promise<vscode.Uri | undefined> => {
    const doc = await templateDocument(arg);
    if (!doc) return undefined;
    const firstError = parseTemplate(doc.getText()).diagnostics.find((d) => d.severity === "error");
    if (firstError) {
      void vscode.window.showErrorMessage(`Preflab: fix the template first (see Problems): line ${firstError.start.line + 1}: ${firstError.message}`);
      return undefined;
    }
    try {
      const dir = await datasetDir(options?.datasetDir);
      if (!dir) return undefined;
      const userId = options?.userId ?? (await pickUser(dir));
      if (!userId) return undefined;
      const state: PreviewState = { source: doc.uri, datasetDir: dir, userId };
      const uri = previews.uriFor(doc.uri);
      previews.set(uri, await render(doc, state), state);
      const shown = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(shown, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
      return uri;
    } catch (e) {
      log.warn(`preview of ${doc.uri.toString()}: ${errorMessage(e)}`);
      void vscode.window.showErrorMessage(`Preflab: cannot preview the template: ${errorMessage(e)}`);
      return undefined;
    }
  };

  // Follow edits of a previewed template (debounced); a failed re-render keeps the last preview.
  const timers = new Map<string, NodeJS.Timeout>();
  const onEdit = vscode.workspace.onDidChangeTextDocument((e) => {
    if (e.document.languageId !== PTPL_LANGUAGE_ID) return;
    const key = previews.uriFor(e.document.uri).toString();
    const state = previews.states.get(key);
    if (!state) return;
    clearTimeout(timers.get(key));
    timers.set(
      key,
      setTimeout(() => {
        timers.delete(key);
        render(e.document, state).then(
          (content) => previews.set(vscode.Uri.parse(key), content, state),
          (err: unknown) => log.debug(`preview not refreshed: ${errorMessage(err)}`),
        );
      }, 400),
    );
  });
  const onClose = vscode.workspace.onDidCloseTextDocument((d) => {
    if (d.uri.scheme === PREVIEW_SCHEME) previews.forget(d.uri);
  });

  const runSample = async (arg?: unknown, n?: unknown): Promise<string | undefined> => {
    const doc = await templateDocument(arg);
    if (!doc) return undefined;
    const count = typeof n === "number" && Number.isInteger(n) && n > 0 ? n : sampleSize;
    const text = doc.getText();
    const parsed = parseTemplate(text);
    const name = typeof parsed.frontMatter?.name === "string" ? parsed.frontMatter.name : path.basename(doc.uri.path);
    const firstError = parsed.diagnostics.find((d) => d.severity === "error");
    if (firstError) {
      void vscode.window.showErrorMessage(`Preflab: fix the template first (see Problems): line ${firstError.start.line + 1}: ${firstError.message}`);
      return undefined;
    }
    if (parsed.template?.kind === "judge") {
      void vscode.window.showInformationMessage("Preflab: a judge template grades a generation run: run a generation evaluation, then “Preflab: Run Judge” with this template.");
      return undefined;
    }
    try {
      const dir = await datasetDir();
      if (!dir) return undefined;
      const chosen: ResolvedProvider = (await opts.provider?.()) ?? { config: { provider: "baseline" }, secrets: [] };
      const runsDir = opts.runsDir?.() ?? defaultRunsDir(context);
      await opts.checkFolder?.(dir, "dataset folder");
      await opts.checkFolder?.(runsDir, "runs folder");
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Preflab: ${name} on ${count} sample(s) with ${chosen.config.provider}`, cancellable: true },
        async (progress, token) => {
          const ac = new AbortController();
          const sub = token.onCancellationRequested(() => ac.abort());
          let reported = 0;
          try {
            return await runTemplateSample({
              text,
              datasetDir: dir,
              runsDir,
              n: count,
              provider: chosen,
              gate: opts.gate,
              ...(opts.policy ? { policy: opts.policy } : {}),
              ...(opts.runner ? { runner: opts.runner() } : {}),
              signal: ac.signal,
              onProgress: (p) => {
                const finished = p.done + p.failed;
                const pct = p.total ? (finished / p.total) * 100 : 0;
                progress.report({ message: `${finished}/${p.total} items, ${p.failed} failed`, increment: pct - reported });
                reported = pct;
              },
            });
          } finally {
            sub.dispose();
          }
        },
      );
      log.info(`template sample run: ${result.headline} → ${result.runDir}`);
      opts.onRunFinished?.(result.runDir);
      const baselineNote = chosen.config.provider === "baseline" && result.kind === "rm" ? " (the baseline reads the pair, not the prompt: choose a model to test the template's wording)" : "";
      void vscode.window.showInformationMessage(`Preflab: ${result.headline}${baselineNote}`, "Open Results", "Reveal Run Folder").then((choice) => {
        if (choice === "Open Results") void vscode.window.showTextDocument(vscode.Uri.file(path.join(result.runDir, "results.jsonl")));
        else if (choice === "Reveal Run Folder") void vscode.commands.executeCommand("revealFileInOS", vscode.Uri.file(result.runDir));
      });
      return result.runDir;
    } catch (e) {
      if (!(e instanceof SampleRunError)) log.error(`template sample run of ${doc.uri.toString()}`, e);
      void vscode.window.showErrorMessage(`Preflab: cannot run the template: ${errorMessage(e)}`);
      return undefined;
    }
  };

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= client.stop().catch(() => undefined));
  const disposables = [
    { dispose: () => void stop() },
    previews,
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, previews),
    onEdit,
    onClose,
    { dispose: () => timers.forEach((t) => clearTimeout(t)) },
    vscode.commands.registerCommand(PREVIEW_TEMPLATE_COMMAND, preview),
    vscode.commands.registerCommand(RUN_TEMPLATE_SAMPLE_COMMAND, runSample),
  ];
  return { disposables, stop };
}

function defaultRunsDir(context: vscode.ExtensionContext): string {
  const ws = vscode.workspace.workspaceFolders?.[0];
  if (ws && ws.uri.scheme === "file") return path.join(ws.uri.fsPath, ".preflab", "runs");
  return path.join(context.globalStorageUri.fsPath, "runs");
}
