/**
 * The "Synthetic Users" tree: dimension → user (subdimension · preference; member, triple) →
 * the pairs of the user's feedback history. A user opens its triple in the triple panel; a pair
 * opens read-only as a virtual document (scheme `preflab-pair`) with its instruction, liked and
 * not-liked responses and similarity score.
 */
import * as vscode from "vscode";
import type { Dimension } from "../core/data/schema.js";
import type { CommandMap, Feature } from "./commands.js";
import type { Services } from "./services.js";
import { DIMENSION_LABEL, oneLine, renderPairDocument, userLabel, type UserSummary } from "./users-index.js";
import { loadCore } from "./core.js";
import { assertSafeSegment, segmentProblem } from "../core/util/safe-path.js";

export const PAIR_SCHEME = "preflab-pair";

type Node =
  | { type: "dimension"; dimension: Dimension; count: number }
  | { type: "user"; user: UserSummary }
  | { type: "pair"; userId: string; index: number; prompt: string; score: number; preference: string }
  | { type: "message"; text: string };

/** preflab-pair:/<userId>/pair-<n>.md?<dataset dir>; a user id that is not one safe path segment is refused. */
export function pairUri(datasetDir: string, userId: string, index: number): vscode.Uri {
  assertSafeSegment(userId, "user id");
  return vscode.Uri.from({ scheme: PAIR_SCHEME, path: `/${userId}/pair-${index + 1}.md`, query: datasetDir });
}

export function parsePairUri(uri: vscode.Uri): { datasetDir: string; userId: string; index: number } | undefined {
  const m = /^\/([^/]+)\/pair-(\d+)\.md$/.exec(uri.path);
  if (!m || !uri.query || segmentProblem(m[1]!)) return undefined;
  return { datasetDir: uri.query, userId: m[1]!, index: Number(m[2]) - 1 };
}

export class UsersTree implements vscode.TreeDataProvider<Node>, vscode.TextDocumentContentProvider, Feature, vscode.Disposable {
  readonly name = "users";
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly docChanged = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.docChanged.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly s: Services) {
    this.disposables.push(this.changed, this.docChanged, s.dataset.onDidChange(() => this.changed.fire(undefined)));
  }

  refresh(): void {
    this.s.dataset.invalidate();
  }

  getTreeItem(n: Node): vscode.TreeItem {
    switch (n.type) {
      case "dimension": {
        const item = new vscode.TreeItem(DIMENSION_LABEL[n.dimension], vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `dim:${n.dimension}`;
        item.description = `${n.count} users`;
        item.iconPath = new vscode.ThemeIcon("symbol-namespace");
        item.contextValue = "preflabDimension";
        return item;
      }
      case "user": {
        const u = n.user;
        const item = new vscode.TreeItem(userLabel(u), vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `user:${u.id}`;
        item.description = `member ${u.member} · ${u.tripleId}`;
        const tip = new vscode.MarkdownString();
        tip.appendMarkdown(`**${DIMENSION_LABEL[u.dimension]}**: `);
        tip.appendText(`${u.preference.subdimension} · ${u.preference.preference}\n\n${u.preference.description}\n\n`);
        tip.appendText(`User ${u.id} — member ${u.member} of triple ${u.tripleId}; ${u.historySize} feedback pairs.`);
        item.tooltip = tip;
        item.iconPath = new vscode.ThemeIcon("person");
        item.contextValue = "preflabUser";
        item.command = { command: "preflab.openTriple", title: "Open Triple", arguments: [{ tripleId: u.tripleId, dimension: u.dimension }] };
        return item;
      }
      case "pair": {
        const item = new vscode.TreeItem(oneLine(n.prompt, 70), vscode.TreeItemCollapsibleState.None);
        item.id = `pair:${n.userId}:${n.index}`;
        item.description = `sim ${n.score.toFixed(2)} · ${n.preference}`;
        item.tooltip = `Feedback pair ${n.index + 1}: ${oneLine(n.prompt, 300)}\nSimilarity ${n.score.toFixed(3)}; liked side: ${n.preference}`;
        item.iconPath = new vscode.ThemeIcon("git-compare");
        item.contextValue = "preflabPair";
        item.command = { command: "preflab.openPair", title: "Open Feedback Pair", arguments: [n.userId, n.index] };
        return item;
      }
      case "message": {
        const item = new vscode.TreeItem(n.text, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon("warning");
        return item;
      }
    }
  }

  async getChildren(n?: Node): Promise<Node[]> {
    const t0 = performance.now();
    let index;
    try {
      index = await this.s.dataset.users();
    } catch (e) {
      this.s.log.error("could not read the dataset's users", e);
      return [{ type: "message", text: `Cannot read users.jsonl: ${(e as Error).message}` }];
    }
    if (!index) return [];
    if (!n) {
      const nodes: Node[] = index.dimensions().map((d) => ({ type: "dimension", dimension: d, count: index.usersOf(d).length }));
      this.s.log.info(`users tree: ${index.size} users ready in ${Math.round(performance.now() - t0)} ms`);
      return nodes;
    }
    if (n.type === "dimension") return index.usersOf(n.dimension).map((user) => ({ type: "user", user }));
    if (n.type === "user") {
      const user = await index.user(n.user.id);
      const nodes: Node[] = (user?.history ?? []).map((h, i) => ({ type: "pair", userId: n.user.id, index: i, prompt: h.prompt, score: h.score, preference: `${h.preference.subdimension} · ${h.preference.preference}` }));
      this.s.log.info(`users tree: history of ${n.user.id} (${nodes.length} pairs) in ${Math.round(performance.now() - t0)} ms`);
      return nodes;
    }
    return [];
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const p = parsePairUri(uri);
    if (!p) return `Not a Preflab feedback pair: ${uri.toString()}\n`;
    await this.s.checkFolder(p.datasetDir, "dataset folder");
    const index = p.datasetDir === this.s.dataset.dir ? await this.s.dataset.users() : await (await loadCore()).UsersIndex.load(p.datasetDir);
    const user = await index?.user(p.userId);
    if (!user) return `User ${p.userId} is not in ${p.datasetDir}.\n`;
    return renderPairDocument(user, p.index);
  }

  async openPair(userId: string, index: number): Promise<void> {
    const dir = this.s.dataset.dir;
    if (!dir) return;
    const doc = await vscode.workspace.openTextDocument(pairUri(dir, userId, index));
    await vscode.window.showTextDocument(doc, { preview: true, preserveFocus: false });
  }

  commands(): CommandMap {
    return {
      "preflab.openPair": (userId: string, index: number) => this.openPair(userId, index),
      "preflab.refreshUsers": () => this.refresh(),
    };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
