/**
 * Markdown for untrusted model output: `marked` turns it into HTML, DOMPurify keeps only a small
 * allow-list of inert tags and attributes, and then:
 * - no element keeps an `href`: http(s) and mailto links become `data-pf-href` on an element with
 *   role="link", opened only by asking the host (`openLink`); every other link is dropped;
 * - images keep only a `data:image/(png|gif|jpeg|webp)` src; any other source (remote, file:,
 *   relative) is removed inside DOMPurify's inert document, before the node can reach the page, so
 *   no request is ever made; the image shows as a "blocked image" note instead;
 * - no scripts, styles, iframes, forms, SVG/MathML, event-handler, style or data-* attributes.
 */
import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: false, async: false });

const ALLOWED_TAGS = [
  "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
  "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "mark", "ol", "p", "pre", "q",
  "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot",
  "th", "thead", "tr", "u", "ul",
];
const ALLOWED_ATTR = ["href", "src", "alt", "title", "colspan", "rowspan", "align", "start", "lang", "dir"];
const SAFE_LINK = /^(https?:|mailto:)/i;
const SAFE_IMG = /^data:image\/(png|gif|jpe?g|webp);base64,[a-z0-9+/=\s]*$/i;

let hooked = false;
function installHooks(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    const el = node;
    if (!el.tagName) return;
    const tag = el.tagName.toLowerCase();
    if (tag === "a") {
      const href = (el.getAttribute("href") ?? "").trim();
      el.removeAttribute("href");
      if (SAFE_LINK.test(href)) {
        el.setAttribute("data-pf-href", href);
        el.setAttribute("role", "link");
        el.setAttribute("tabindex", "0");
        el.setAttribute("class", "md-link");
        el.setAttribute("title", `${href} (opens outside VS Code after confirmation)`);
      }
    } else if (tag === "img") {
      const src = (el.getAttribute("src") ?? "").trim();
      if (!SAFE_IMG.test(src)) {
        el.removeAttribute("src");
        el.setAttribute("data-pf-blocked", src ? "remote" : "empty");
      }
    } else if (el.hasAttribute("src")) {
      el.removeAttribute("src");
    }
  });
}

const cache = new Map<string, string>();
const CACHE_MAX = 300;

/** Sanitized HTML for untrusted markdown (see the module comment); memoized by text. */
export function markdownToSafeHtml(text: string): string {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  installHooks();
  const raw = marked.parse(text) as string;
  const html = DOMPurify.sanitize(raw, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ALLOW_UNKNOWN_PROTOCOLS: false,
    RETURN_TRUSTED_TYPE: false,
  });
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(text, html);
  return html;
}

/** Renders untrusted markdown into `el` (replacing its content). */
export function renderMarkdown(el: HTMLElement, text: string): HTMLElement {
  el.classList.add("md");
  el.innerHTML = markdownToSafeHtml(text);
  for (const img of Array.from(el.querySelectorAll("img[data-pf-blocked]"))) {
    const note = document.createElement("span");
    note.className = "md-blocked-img";
    note.setAttribute("role", "img");
    const alt = img.getAttribute("alt") ?? "";
    note.setAttribute("aria-label", `blocked image${alt ? `: ${alt}` : ""}`);
    note.textContent = `[image blocked${alt ? `: ${alt}` : ""}]`;
    img.replaceWith(note);
  }
  return el;
}

/**
 * Sends link activations inside `root` (click, Enter) to `open`, which should ask the host;
 * the page itself never navigates.
 */
export function routeLinks(root: HTMLElement, open: (href: string) => void): void {
  const fire = (ev: Event) => {
    const a = (ev.target as Element | null)?.closest?.("[data-pf-href]");
    if (!a || !root.contains(a)) return;
    ev.preventDefault();
    const href = a.getAttribute("data-pf-href") ?? "";
    if (SAFE_LINK.test(href)) open(href);
  };
  root.addEventListener("click", fire);
  root.addEventListener("keydown", (ev) => {
    if ((ev).key === "Enter") fire(ev);
  });
}
