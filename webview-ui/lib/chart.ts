/**
 * Grouped bar charts with error bars, drawn as inline SVG (no chart library). Colours come from
 * VS Code's chart theme variables through CSS classes (dashboard.css), so they follow the theme.
 */
import { h, s } from "./dom.js";

export interface Bar {
  value: number | null;
  lo?: number | null;
  hi?: number | null;
}

export interface BarGroup {
  label: string;
  /** One bar per series, in series order (null: no value). */
  bars: (Bar | null)[];
}

export interface BarChartSpec {
  title: string;
  series: string[];
  groups: BarGroup[];
  min: number;
  max: number;
  /** A dashed reference line (e.g. chance). */
  reference?: { value: number; label: string };
  format: (x: number) => string;
  yLabel?: string;
}

const H = 220;
const PAD = { top: 14, right: 90, bottom: 34, left: 44 };
const BAR_W = 22;
const BAR_GAP = 4;
const GROUP_GAP = 32;

export function barChart(spec: BarChartSpec): HTMLElement {
  const n = Math.max(1, spec.series.length);
  const groupW = n * BAR_W + (n - 1) * BAR_GAP;
  const W = PAD.left + PAD.right + spec.groups.length * groupW + Math.max(0, spec.groups.length - 1) * GROUP_GAP + GROUP_GAP;
  const plotH = H - PAD.top - PAD.bottom;
  const clamp = (x: number) => Math.min(spec.max, Math.max(spec.min, x));
  const y = (v: number) => PAD.top + plotH * (1 - (clamp(v) - spec.min) / (spec.max - spec.min));

  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": spec.title, class: "chart" });
  svg.append(s("title", {}, spec.title));
  // Axis and ticks.
  const ticks = 4;
  for (let t = 0; t <= ticks; t++) {
    const v = spec.min + ((spec.max - spec.min) * t) / ticks;
    const yy = y(v);
    svg.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: yy, y2: yy, class: "grid-line" }));
    svg.append(s("text", { x: PAD.left - 6, y: yy + 4, "text-anchor": "end", class: "tick" }, spec.format(v)));
  }
  if (spec.yLabel) svg.append(s("text", { x: 10, y: PAD.top + plotH / 2, transform: `rotate(-90 10 ${PAD.top + plotH / 2})`, "text-anchor": "middle", class: "tick" }, spec.yLabel));
  svg.append(s("line", { x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: PAD.top + plotH, class: "axis" }));
  svg.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: PAD.top + plotH, y2: PAD.top + plotH, class: "axis" }));

  spec.groups.forEach((g, gi) => {
    const x0 = PAD.left + GROUP_GAP / 2 + gi * (groupW + GROUP_GAP);
    g.bars.forEach((b, si) => {
      if (!b || b.value === null || !Number.isFinite(b.value)) return;
      const x = x0 + si * (BAR_W + BAR_GAP);
      const top = y(b.value);
      const base = y(Math.max(spec.min, Math.min(spec.max, 0)));
      const ci = b.lo !== null && b.lo !== undefined && b.hi !== null && b.hi !== undefined ? ` [${spec.format(b.lo)}, ${spec.format(b.hi)}]` : "";
      svg.append(
        s(
          "rect",
          { x, y: Math.min(top, base), width: BAR_W, height: Math.max(1, Math.abs(base - top)), class: `bar s${si % 6}`, "data-group": g.label, "data-series": spec.series[si] ?? "" },
          s("title", {}, `${spec.series[si] ?? ""} — ${g.label}: ${spec.format(b.value)}${ci}`),
        ),
      );
      if (ci) {
        const cx = x + BAR_W / 2;
        const y1 = y(b.lo!);
        const y2 = y(b.hi!);
        svg.append(s("line", { x1: cx, x2: cx, y1, y2, class: "err" }));
        svg.append(s("line", { x1: cx - 4, x2: cx + 4, y1, y2: y1, class: "err" }));
        svg.append(s("line", { x1: cx - 4, x2: cx + 4, y1: y2, y2, class: "err" }));
      }
    });
    svg.append(s("text", { x: x0 + groupW / 2, y: H - PAD.bottom + 16, "text-anchor": "middle", class: "group-label" }, g.label));
  });
  if (spec.reference) {
    const yy = y(spec.reference.value);
    svg.append(s("line", { x1: PAD.left, x2: W - PAD.right + 4, y1: yy, y2: yy, class: "ref" }));
    svg.append(s("text", { x: W - PAD.right + 8, y: yy + 3, "text-anchor": "start", class: "ref-label" }, spec.reference.label));
  }
  const legend = h(
    "div",
    { class: "legend", "aria-hidden": "true" },
    spec.series.map((name, si) => h("span", { class: "legend-item" }, h("span", { class: `swatch s${si % 6}` }), name)),
  );
  return h("figure", { class: "chart-figure" }, h("figcaption", { class: "chart-title" }, spec.title), svg, legend);
}
