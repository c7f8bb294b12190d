/**
 * Runtime schemas for the webview channels (the types are in webview.ts): every message a panel
 * receives from its webview is parsed here before the host acts on it, and every message a
 * webview receives from the host passes `HOST_ENVELOPE` (a known `type`, an object, bounded size)
 * before it renders anything. A message that fails is dropped (and logged by the host).
 *
 * zod/mini keeps the webview bundles small; the host uses the same schemas.
 */
import * as z from "zod/mini";
import type { DashboardWebviewMessage, ExperimentWebviewMessage, TripleWebviewMessage } from "./webview.js";

const dimension = z.enum(["style", "background_knowledge", "informativeness", "harmlessness"]);
/** Ids, paths and queries from a webview: bounded strings without NUL. */
const text = (max: number) => z.string().check(z.maxLength(max), z.refine((s) => !s.includes("\0"), "NUL in a string"));

export const TripleWebviewMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready"), tripleId: z.optional(text(500)) }),
  z.object({ type: z.literal("navigate"), direction: z.enum(["prev", "next", "id"]), tripleId: text(500) }),
  z.object({ type: z.literal("search"), query: text(2000) }),
  z.object({ type: z.literal("selectDimension"), dimension }),
  z.object({ type: z.literal("openRun"), runDir: text(4096) }),
  z.object({ type: z.literal("chooseRuns") }),
  z.object({ type: z.literal("openLink"), href: text(8192) }),
  z.object({ type: z.literal("invalidHostMessage"), reason: text(2000) }),
]);

export const DashboardWebviewMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready") }),
  z.object({ type: z.literal("refresh") }),
  z.object({ type: z.literal("export"), format: z.enum(["csv", "md"]) }),
  z.object({ type: z.literal("compare"), runA: text(4096), runB: text(4096) }),
  z.object({ type: z.literal("openRun"), runDir: text(4096) }),
  z.object({ type: z.literal("invalidHostMessage"), reason: text(2000) }),
]);

export const ExperimentWebviewMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready") }),
  z.object({ type: z.literal("refresh") }),
  z.object({ type: z.literal("runCell"), cell: text(500) }),
  z.object({ type: z.literal("openCell"), cell: text(500) }),
  z.object({ type: z.literal("openFile"), cell: text(500), file: text(500) }),
  z.object({ type: z.literal("invalidHostMessage"), reason: text(2000) }),
]);

// The schemas and the protocol types must describe the same messages.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _triple: Same<z.infer<typeof TripleWebviewMessageSchema>, TripleWebviewMessage> = true;
const _dashboard: Same<z.infer<typeof DashboardWebviewMessageSchema>, DashboardWebviewMessage> = true;
const _experiment: Same<z.infer<typeof ExperimentWebviewMessageSchema>, ExperimentWebviewMessage> = true;
void _triple;
void _dashboard;
void _experiment;

export const TRIPLE_HOST_TYPES = ["triple", "loading", "searchResults", "error"] as const;
export const DASHBOARD_HOST_TYPES = ["report", "loading", "comparison", "comparisonError", "exported", "error"] as const;
export const EXPERIMENT_HOST_TYPES = ["experiment", "loading", "error"] as const;

/** The webview side: a host message is an object with a known `type`. */
export function hostEnvelope<T extends string>(types: readonly T[]) {
  return z.looseObject({ type: z.enum(types as unknown as [T, ...T[]]) });
}

/** Parses a message from a webview; undefined (with the reason) when it does not match. */
export function parseWebviewMessage<S extends z.ZodMiniType>(schema: S, raw: unknown): { ok: true; message: z.infer<S> } | { ok: false; reason: string } {
  const r = z.safeParse(schema, raw);
  if (r.success) return { ok: true, message: r.data };
  return { ok: false, reason: r.error.issues.map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`).join("; ") };
}
