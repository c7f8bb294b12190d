/**
 * Exporting fine-tuning data from a built dataset's train pairs (see examples.ts for the examples
 * and their histories, formats.ts for the lines). The output directory is written atomically
 * (temp directory + rename) and holds:
 *
 *   train.jsonl     the training lines, nothing else on them
 *   examples.jsonl  one line per written example: id, pair, triple, dimension, part, history kept /
 *                   dropped, prompt and sequence tokens (same order as train.jsonl)
 *   export.json     what was exported (format, target, options, dataset hash, templates), counts,
 *                   history pairs dropped by the budget and the examples over budget
 *
 * Token check: each prompt goes through renderWithBudget with the max input tokens (default
 * 12,800, the paper's), the evaluation's rule: the oldest history pairs are dropped until the
 * prompt fits; an example that does not fit even without history is left out and listed.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { Dataset } from "../data/dataset.js";
import { DEFAULT_MAX_INPUT_TOKENS } from "../templates/budget.js";
import { ESTIMATE_TOKENIZER, type Tokenizer } from "../templates/tokens.js";
import { templateOfKind } from "../templates/template.js";
import {
  emptyExampleStats,
  resolveExampleOptions,
  trainExamples,
  TrainPairs,
  type ExampleOptions,
  type ExampleStats,
  type Part,
  type PartChoice,
  type ResolvedExampleOptions,
} from "./examples.js";
import { checkFormatTarget, renderExamplePrompt, trainingLine, type ExportFormat, type ExportTarget } from "./formats.js";
import { writeDirAtomic, writeJsonFileAtomic } from "./fsutil.js";
import { readRsSelection } from "./rs.js";

export const EXPORT_FILES = { train: "train.jsonl", examples: "examples.jsonl", report: "export.json" } as const;

export interface ExportOptions extends ExampleOptions {
  format: ExportFormat;
  target: ExportTarget;
  out: string;
  maxInputTokens?: number;
  /**
   * Counts the budget (the paper's 12,800 is the fine-tuned model's maximum input length): the
   * model's tokenizer (tokenizerFor: a GGUF of the base model, an OpenAI model name); default the
   * chars/4 estimate, recorded as such.
   */
  tokenizer?: Tokenizer;
  /** Generation template (.ptpl) for the prompt; default the paper's B.2. */
  template?: string;
  historyTemplate?: string;
  /** Keep only the examples a rejection-sampling run kept (its output directory). */
  keepFrom?: string;
  force?: boolean;
  onProgress?: (done: number) => void;
}

export interface ExampleIndexLine {
  id: string;
  pairId: string;
  tripleId: string;
  dimension: string;
  part: Part;
  historyKept: number;
  historyDropped: number;
  promptTokens: number;
  sequenceTokens: number;
}

export interface ExportReport {
  version: 1;
  format: ExportFormat;
  target: ExportTarget;
  /** The method the file trains (sft, dpo, rm). */
  method: ExportFormat;
  dataset: { dir: string; manifestHash: string };
  options: ResolvedExampleOptions & { maxInputTokens: number };
  templates: { generation: { name: string; hash: string }; history: { name: string; hash: string } };
  rejectionSampling: { dir: string; keep: number } | null;
  counts: {
    trainPairs: number;
    pairsInParts: number;
    noDimension: number;
    examples: number;
    /** Left out: not kept by rejection sampling. */
    filteredOut: number;
    /** Left out: over the input budget even without history. */
    overBudget: number;
    written: number;
    shortHistories: number;
    triples: { a: number; b: number };
  };
  history: {
    /** History pairs dropped by the token budget, over all written examples. */
    droppedPairs: number;
    examplesWithDrops: number;
    meanKept: number;
  };
  tokens: { maxPrompt: number; meanPrompt: number; maxSequence: number };
  /** What counted the tokens; exact: false for the chars/4 estimate. */
  tokenizer: { name: string; exact: boolean };
  /** Ids of the examples over budget (first 1000). */
  overBudgetIds: string[];
  files: typeof EXPORT_FILES;
}

async function writeLine(stream: NodeJS.WritableStream, line: string): Promise<void> {
  if (!stream.write(line + "\n")) await once(stream, "drain");
}

async function closeStream(stream: ReturnType<typeof createWriteStream>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.once("error", reject);
    stream.end(() => resolve());
  });
}

export async function exportFinetuneData(datasetDir: string, opts: ExportOptions): Promise<ExportReport> {
  checkFormatTarget(opts.format, opts.target);
  const maxInputTokens = opts.maxInputTokens ?? DEFAULT_MAX_INPUT_TOKENS;
  const tokenizer = opts.tokenizer ?? ESTIMATE_TOKENIZER;
  if (!Number.isInteger(maxInputTokens) || maxInputTokens < 1) throw new Error(`max input tokens must be a positive integer, got ${maxInputTokens}`);
  const tpl = templateOfKind(opts.template, "generation", "generation");
  const htpl = templateOfKind(opts.historyTemplate, "history", "history");
  const defaultPart: PartChoice = opts.format === "dpo" ? "b" : "a";
  // The manifest gives the defaults (seed, history size).
  const ds = await Dataset.open(datasetDir);
  const options = resolveExampleOptions({ ...opts, part: opts.part ?? defaultPart }, ds.manifest);

  let keep: Set<string> | undefined;
  let rsInfo: ExportReport["rejectionSampling"] = null;
  if (opts.keepFrom) {
    const sel = await readRsSelection(opts.keepFrom);
    const mismatch: string[] = (["seed", "historySize", "perPair", "split"] as const).filter((k) => sel.options[k] !== options[k]);
    if (sel.options.dimensions.join(",") !== options.dimensions.join(",")) mismatch.push("dimensions");
    if (mismatch.length) throw new Error(`${opts.keepFrom} scored other examples (different ${mismatch.join(", ")}); export with the same options as the rs run`);
    if (sel.datasetManifestHash !== ds.manifestHash) throw new Error(`${opts.keepFrom} scored another dataset (manifest hash differs)`);
    if (sel.options.part !== "all" && sel.options.part !== options.part) throw new Error(`${opts.keepFrom} scored part ${sel.options.part} only; this export needs part ${options.part}`);
    keep = sel.kept;
    rsInfo = { dir: path.resolve(opts.keepFrom), keep: sel.keep };
  }

  const train = await TrainPairs.open(datasetDir, options);
  try {
    return await writeDirAtomic(opts.out, opts.force, async (dir) => {
      const trainOut = createWriteStream(path.join(dir, EXPORT_FILES.train));
      const indexOut = createWriteStream(path.join(dir, EXPORT_FILES.examples));
      const stats: ExampleStats = emptyExampleStats();
      const overBudgetIds: string[] = [];
      let overBudget = 0;
      let filteredOut = 0;
      let written = 0;
      let droppedPairs = 0;
      let examplesWithDrops = 0;
      let keptSum = 0;
      let maxPrompt = 0;
      let sumPrompt = 0;
      let maxSequence = 0;
      try {
        for await (const ex of trainExamples(train, options, stats)) {
          if (keep && !keep.has(ex.id)) {
            filteredOut++;
            continue;
          }
          const p = renderExamplePrompt(ex, tpl, htpl, maxInputTokens, tokenizer);
          if (p.overBudget) {
            overBudget++;
            if (overBudgetIds.length < 1000) overBudgetIds.push(ex.id);
            continue;
          }
          const sequenceTokens = p.promptTokens + Math.max(tokenizer.count(ex.chosen), opts.format === "sft" ? 0 : tokenizer.count(ex.rejected)) + 4;
          await writeLine(trainOut, JSON.stringify(trainingLine(opts.format, opts.target, p.messages, ex.chosen, ex.rejected)));
          const idx: ExampleIndexLine = {
            id: ex.id,
            pairId: ex.pairId,
            tripleId: ex.tripleId,
            dimension: ex.dimension,
            part: ex.part,
            historyKept: p.historyKept,
            historyDropped: p.historyDropped,
            promptTokens: p.promptTokens,
            sequenceTokens,
          };
          await writeLine(indexOut, JSON.stringify(idx));
          written++;
          droppedPairs += p.historyDropped;
          if (p.historyDropped > 0) examplesWithDrops++;
          keptSum += p.historyKept;
          maxPrompt = Math.max(maxPrompt, p.promptTokens);
          sumPrompt += p.promptTokens;
          maxSequence = Math.max(maxSequence, sequenceTokens);
          if (written % 500 === 0) opts.onProgress?.(written);
        }
      } finally {
        await closeStream(trainOut);
        await closeStream(indexOut);
      }
      const report: ExportReport = {
        version: 1,
        format: opts.format,
        target: opts.target,
        method: opts.format,
        dataset: { dir: ds.dir, manifestHash: ds.manifestHash },
        options: { ...options, maxInputTokens },
        tokenizer: { name: tokenizer.name, exact: tokenizer.exact },
        templates: { generation: { name: tpl.name, hash: tpl.hash }, history: { name: htpl.name, hash: htpl.hash } },
        rejectionSampling: rsInfo,
        counts: {
          trainPairs: stats.pairs,
          pairsInParts: stats.pairsInParts,
          noDimension: stats.noDimension,
          examples: stats.examples,
          filteredOut,
          overBudget,
          written,
          shortHistories: stats.shortHistories,
          triples: stats.triples,
        },
        history: { droppedPairs, examplesWithDrops, meanKept: written ? round(keptSum / written) : 0 },
        tokens: { maxPrompt, meanPrompt: written ? round(sumPrompt / written) : 0, maxSequence },
        overBudgetIds,
        files: EXPORT_FILES,
      };
      await writeJsonFileAtomic(path.join(dir, EXPORT_FILES.report), report);
      return report;
    });
  } finally {
    await train.close();
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Reads an export directory's report (export.json). */
export async function readExportReport(dir: string): Promise<ExportReport> {
  const file = path.join(dir, EXPORT_FILES.report);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new Error(`${dir} is not a Preflab export (no ${EXPORT_FILES.report}); make one with \`preflab export\``);
  }
  return JSON.parse(text) as ExportReport;
}

export function formatExportReport(r: ExportReport, out: string): string {
  const c = r.counts;
  const lines = [
    `export: ${r.format} for ${r.target} -> ${path.join(out, EXPORT_FILES.train)}`,
    `  part           ${r.options.part} (split ${fmt(r.options.split)} of ${c.triples.a + c.triples.b} train instructions: a=${c.triples.a}, b=${c.triples.b}; seed ${r.options.seed})`,
    `  pairs          ${c.pairsInParts} of ${c.trainPairs} in the part; ${c.noDimension} express none of ${r.options.dimensions.join(", ")}`,
    `  examples       ${c.examples} (${r.options.perPair === "one" ? "one dimension per pair" : "one per expressed dimension"})`,
  ];
  if (r.rejectionSampling) lines.push(`  rejection      ${c.filteredOut} left out by ${r.rejectionSampling.dir} (keep ${r.rejectionSampling.keep})`);
  lines.push(
    `  over budget    ${c.overBudget} left out (longer than ${r.options.maxInputTokens} tokens without any history)`,
    `  written        ${c.written}`,
    `  history        ${r.history.droppedPairs} pairs dropped to fit ${r.options.maxInputTokens} tokens, in ${r.history.examplesWithDrops} examples; mean kept ${r.history.meanKept}; ${c.shortHistories} short histories (< ${r.options.historySize})`,
    `  tokens         prompt max ${r.tokens.maxPrompt}, mean ${r.tokens.meanPrompt}; prompt + response max ${r.tokens.maxSequence} (${r.tokenizer ? `${r.tokenizer.name}${r.tokenizer.exact ? "" : ", an estimate"}` : "approx. chars/4"})`,
  );
  return lines.join("\n") + "\n";
}

function fmt(x: number): string {
  return Math.abs(x - 1 / 3) < 1e-12 ? "1/3" : String(Math.round(x * 1e4) / 1e4);
}
