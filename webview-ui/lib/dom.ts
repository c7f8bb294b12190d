/**
 * A tiny element builder. Text always goes in as text nodes (never as HTML); attributes go through
 * setAttribute and `on*` attribute names are refused, so nothing built here can carry markup or
 * handlers from data. The only HTML this UI ever inserts is sanitized markdown (markdown.ts).
 */
export type Attrs = Record<string, string | number | boolean | null | undefined>;
export type Child = Node | string | number | null | undefined | false | Child[];

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (/^on/i.test(k)) throw new Error(`h(): refusing event-handler attribute ${k}`);
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (typeof c === "string" || typeof c === "number") el.appendChild(document.createTextNode(String(c)));
    else el.appendChild(c);
  }
}

/** SVG element builder (same rules as h). */
export function s(tag: string, attrs: Attrs = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (/^on/i.test(k)) throw new Error(`s(): refusing event-handler attribute ${k}`);
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function clear(el: Element): void {
  el.replaceChildren();
}

export const DIM_LABEL: Record<string, string> = {
  style: "Style",
  background_knowledge: "Background knowledge",
  informativeness: "Informativeness",
  harmlessness: "Harmlessness",
};
export const DIM_SHORT: Record<string, string> = { style: "Style", background_knowledge: "Knowledge", informativeness: "Informative", harmlessness: "Harmless" };
