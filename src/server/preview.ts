/**
 * Rendering a template with a synthetic user of a built dataset, as the evaluations would: the
 * same core renderer, history template, token estimate and budget (oldest pairs dropped first).
 *
 * - reward-model: the user's triple; A/B are the user's golden response (chosen) and another
 *   member's (rejected), chosen first by default; feedback history = the user's history.
 * - generation: the triple's instruction and the user's history.
 * - judge: the triple's instruction; the response graded is a member's golden response (the
 *   user's own by default); the reference is the user's golden response and the rubric the user's
 *   member's rubric on the user's dimension (formatRubric, as the judge run does).
 * - history: one pair, the user's first history pair, as example 1.
 */
import { UsersIndexCache, type UsersIndex } from "../core/data/users-index.js";
import type { SyntheticUser, Triple } from "../core/data/types.js";
import { formatRubric } from "../core/eval/judge.js";
import type { ChatMessage } from "../core/providers/types.js";
// An oracle template ({{preference}}) previews with the user's stated preference, as an --oracle run sends it.
import { preferenceText } from "../core/eval/oracle.js";
import { approxTokens, DEFAULT_MAX_INPUT_TOKENS, messagesTokens, renderWithBudget } from "../core/templates/budget.js";
import { builtinTemplate, parseTemplate, renderMessages, renderText, templateOfKind } from "../core/templates/template.js";
import type { TemplatePreviewParams, TemplatePreviewResult, TemplateSubjectsParams, TemplateSubjectsResult } from "../protocol/templates.js";

/** An error to show the user as is (bad template, unknown user, no dataset). */
export class PreviewError extends Error {
  override name = "PreviewError";
}

const oneLine = (s: string, max: number) => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/** The users of the datasets previewed, kept between refreshes (reloaded when a folder is rebuilt). */
const usersIndexes = new UsersIndexCache();

async function openUsers(dir: string): Promise<UsersIndex> {
  try {
    return await usersIndexes.get(dir);
  } catch (e) {
    throw new PreviewError((e as Error).message);
  }
}

export async function listSubjects(params: TemplateSubjectsParams): Promise<TemplateSubjectsResult> {
  const users = await openUsers(params.datasetDir);
  const ds = users.dataset;
  const limit = params.limit ?? 500;
  const prompts = new Map<string, string>();
  const subjects: TemplateSubjectsResult["subjects"] = [];
  for (const u of users.all.slice(0, limit)) {
    if (!prompts.has(u.tripleId)) prompts.set(u.tripleId, (await ds.triple(u.tripleId))?.prompt ?? "");
    subjects.push({
      userId: u.id,
      tripleId: u.tripleId,
      member: u.member,
      dimension: u.dimension,
      preference: oneLine(u.preference.preference || u.preference.description, 160),
      instruction: oneLine(prompts.get(u.tripleId) ?? "", 120),
      historyPairs: u.historySize,
    });
  }
  return { datasetDir: ds.dir, subjects, truncated: users.all.length > limit };
}

async function findUser(users: UsersIndex, userId?: string, tripleId?: string): Promise<SyntheticUser> {
  const dir = users.dir;
  const summary = userId !== undefined ? users.summary(userId) : users.all.find((u) => tripleId === undefined || u.tripleId === tripleId);
  const user = summary && (await users.user(summary.id));
  if (user) return user;
  if (userId !== undefined) throw new PreviewError(`user ${userId} is not in the dataset ${dir}`);
  if (tripleId !== undefined) throw new PreviewError(`no synthetic user of triple ${tripleId} in the dataset ${dir}`);
  throw new PreviewError(`the dataset ${dir} has no synthetic users`);
}

function memberOf(t: Triple, m: number, what: string) {
  const member = t.members[m];
  if (!member) throw new PreviewError(`${what}: triple ${t.id} has no member ${m} (0, 1 or 2)`);
  return member;
}

export async function renderPreview(params: TemplatePreviewParams): Promise<TemplatePreviewResult> {
  const parsed = parseTemplate(params.text, params.uri ?? "<template>");
  const errors = parsed.diagnostics.filter((d) => d.severity === "error");
  if (!parsed.template || errors.length) {
    const first = errors[0];
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
    throw new PreviewError(first ? `the template has errors: line ${first.start.line + 1}: ${first.message}${more}` : "the template has errors");
  }
  const tpl = parsed.template;
  const users = await openUsers(params.datasetDir);
  const ds = users.dataset;
  const user = await findUser(users, params.userId, params.tripleId);
  const triple = await ds.triple(user.tripleId);
  if (!triple) throw new PreviewError(`${ds.dir}: user ${user.id} refers to missing triple ${user.tripleId}`);
  const maxTokens = params.maxInputTokens ?? DEFAULT_MAX_INPUT_TOKENS;
  let htpl;
  try {
    htpl = params.historyTemplatePath ? templateOfKind(params.historyTemplatePath, "history", "history") : builtinTemplate("history");
  } catch (e) {
    throw new PreviewError((e as Error).message);
  }
  const own = memberOf(triple, user.member, "user");
  const notes: string[] = [`instruction: triple ${triple.id}`];
  let messages: ChatMessage[];
  let tokens: number;
  let kept = 0;
  let dropped = 0;
  let overBudget: boolean;

  switch (tpl.kind) {
    case "reward-model": {
      const other = params.otherMember ?? (user.member + 1) % 3;
      if (other === user.member) throw new PreviewError(`otherMember must differ from the user's member (${user.member})`);
      const rejected = memberOf(triple, other, "otherMember");
      const order = params.order ?? "ab";
      const [a, b] = order === "ab" ? [own.response, rejected.response] : [rejected.response, own.response];
      const p = renderWithBudget(tpl, htpl, user.history, { instruction: triple.prompt, response_a: a, response_b: b, preference: preferenceText(user.preference) }, maxTokens);
      ({ messages, tokens, kept, dropped, overBudget } = p);
      notes.push(
        `response_a: member ${order === "ab" ? user.member : other}'s golden response (${order === "ab" ? "chosen" : "rejected"})`,
        `response_b: member ${order === "ab" ? other : user.member}'s golden response (${order === "ab" ? "rejected" : "chosen"})`,
        `feedback_history: ${kept} pair(s) with the history template "${htpl.name}"`,
      );
      break;
    }
    case "generation": {
      const p = renderWithBudget(tpl, htpl, user.history, { instruction: triple.prompt, preference: preferenceText(user.preference) }, maxTokens);
      ({ messages, tokens, kept, dropped, overBudget } = p);
      if (tpl.placeholders.some((x) => x.name === "feedback_history")) notes.push(`feedback_history: ${kept} pair(s) with the history template "${htpl.name}"`);
      break;
    }
    case "judge": {
      const graded = params.otherMember ?? user.member;
      const response = memberOf(triple, graded, "otherMember").response;
      const i = own.preference_set.findIndex((e) => e.dimension === user.dimension);
      const rubric = own.rubrics[i];
      if (!rubric) throw new PreviewError(`triple ${triple.id} member ${user.member} has no rubric for ${user.dimension}`);
      messages = renderMessages(tpl, { instruction: triple.prompt, response, reference_answer: own.response, rubric: formatRubric(rubric) });
      tokens = messagesTokens(messages);
      overBudget = tokens > maxTokens;
      notes.push(
        `response: member ${graded}'s golden response`,
        `reference_answer: member ${user.member}'s golden response (the user's)`,
        `rubric: member ${user.member}'s rubric for ${user.dimension}`,
      );
      break;
    }
    case "history": {
      const h = user.history[0];
      if (!h) throw new PreviewError(`user ${user.id} has no feedback history to render`);
      const text = renderText(tpl, { example_id: "1", instruction: h.prompt, preferred_response: h.chosen, rejected_response: h.rejected });
      messages = [{ role: "user", content: text }];
      tokens = approxTokens(text);
      overBudget = tokens > maxTokens;
      kept = 1;
      notes.push(`one pair: ${h.pairId} (the user's first of ${user.history.length}), as example 1`);
      break;
    }
  }
  return {
    kind: tpl.kind,
    templateName: tpl.name,
    templateHash: tpl.hash,
    datasetDir: ds.dir,
    userId: user.id,
    tripleId: triple.id,
    dimension: user.dimension,
    preference: oneLine(user.preference.preference || user.preference.description, 200),
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    tokens,
    maxInputTokens: maxTokens,
    overBudget,
    historyKept: kept,
    historyDropped: dropped,
    notes,
  };
}
