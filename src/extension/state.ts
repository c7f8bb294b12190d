/**
 * Shared host state: the open dataset (remembered per workspace) and the runs active in this
 * extension host. Both fire events the views listen to; both are owned by context.subscriptions.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { Progress } from "../core/eval/runner.js";
import type { UsersIndex } from "../core/data/users-index.js";
import { loadCore } from "./core.js";

const DATASET_KEY = "preflab.dataset";
export const DATASET_OPEN_CONTEXT = "preflab.datasetOpen";
export const RUNS_ACTIVE_CONTEXT = "preflab.runsActive";

export class DatasetState implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<string | undefined>();
  readonly onDidChange = this.emitter.event;
  private index: Promise<UsersIndex> | undefined;
  private current: string | undefined;

  constructor(private readonly memento: vscode.Memento) {
    const saved = memento.get<string>(DATASET_KEY);
    if (saved && existsSync(path.join(saved, "manifest.json"))) this.current = saved;
    void vscode.commands.executeCommand("setContext", DATASET_OPEN_CONTEXT, this.current !== undefined);
  }

  get dir(): string | undefined {
    return this.current;
  }

  async set(dir: string | undefined): Promise<void> {
    this.current = dir;
    this.index = undefined;
    await this.memento.update(DATASET_KEY, dir);
    await vscode.commands.executeCommand("setContext", DATASET_OPEN_CONTEXT, dir !== undefined);
    this.emitter.fire(dir);
  }

  /** The users index of the open dataset (loaded once per dataset; reloaded when users.jsonl changed). */
  async users(): Promise<UsersIndex | undefined> {
    const dir = this.current;
    if (!dir) return undefined;
    if (!this.index) this.index = loadCore().then((core) => core.UsersIndex.load(dir));
    try {
      return await this.index;
    } catch (e) {
      this.index = undefined;
      throw e;
    }
  }

  /** Drops the cached index (after a rebuild of the same folder). */
  invalidate(): void {
    this.index = undefined;
    this.emitter.fire(this.current);
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

export interface ActiveRun {
  dir: string;
  kind: string;
  label: string;
  controller: AbortController;
  progress?: Progress;
  startedAt: number;
}

/** Runs going on in this extension host, by run directory. */
export class ActiveRuns implements vscode.Disposable {
  private readonly runs = new Map<string, ActiveRun>();
  private readonly emitter = new vscode.EventEmitter<ActiveRun | undefined>();
  readonly onDidChange = this.emitter.event;

  get dirs(): ReadonlySet<string> {
    return new Set(this.runs.keys());
  }
  get all(): ActiveRun[] {
    return [...this.runs.values()];
  }
  get(dir: string): ActiveRun | undefined {
    return this.runs.get(dir);
  }

  add(run: ActiveRun): void {
    if (this.runs.has(run.dir)) throw new Error(`${run.dir} is already running`);
    this.runs.set(run.dir, run);
    void vscode.commands.executeCommand("setContext", RUNS_ACTIVE_CONTEXT, true);
    this.emitter.fire(run);
  }

  update(dir: string, progress: Progress): void {
    const r = this.runs.get(dir);
    if (!r) return;
    r.progress = progress;
    this.emitter.fire(r);
  }

  remove(dir: string): void {
    this.runs.delete(dir);
    void vscode.commands.executeCommand("setContext", RUNS_ACTIVE_CONTEXT, this.runs.size > 0);
    this.emitter.fire(undefined);
  }

  /** Aborts every run (deactivate): each stops dispatching and stays resumable. */
  abortAll(): void {
    for (const r of this.runs.values()) r.controller.abort();
  }

  /**
   * Aborts every run and resolves once all of them ended (each disposed its provider, freeing a
   * loaded model), or after `timeoutMs`.
   */
  stopAll(timeoutMs: number): Promise<void> {
    this.abortAll();
    if (this.runs.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sub.dispose();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      const sub = this.emitter.event(() => {
        if (this.runs.size === 0) done();
      });
    });
  }

  dispose(): void {
    this.abortAll();
    this.emitter.dispose();
  }
}
