// A flow as a diagram: steps in rows by their distance from the start, an arrow per way on
// (each option, timeout, click and no-click trigger, plain `next`), labelled. Layout is pure
// (flowGraph, layout); FlowDiagram draws it as SVG with a text outline beside it for screen
// readers and narrow screens.
import { html } from "./lib.js";

const END = "end";
const W = 190;
const H = 62;
const GAP_X = 60;
const GAP_Y = 96;

function optionLabel(opt) {
  if (opt.any) return "any text";
  if (opt.range) return opt.range[0] === opt.range[1] ? `${opt.range[0]}` : `${opt.range[0]}–${opt.range[1]}`;
  return (opt.keywords || [])[0] || "?";
}

const TRIGGERS = [["on_timeout", "no reply", "timeout"], ["on_click", "click", "click"],
  ["on_no_click", "no click", "noclick"]];

// {nodes: [{id, prompt, start}], edges: [{from, to, label, kind}]}
export function flowGraph(flow) {
  const steps = flow.steps || {};
  const edges = [];
  const add = (from, to, label, kind) => {
    const same = edges.find((e) => e.from === from && e.to === to && e.kind === kind);
    if (same) same.label = `${same.label}, ${label}`;
    else edges.push({ from, to, label, kind });
  };
  for (const [id, step] of Object.entries(steps)) {
    const ends = (actions) => (actions || []).some((a) => a.type === "end");
    for (const opt of step.options || []) add(id, opt.next || END, optionLabel(opt), "option");
    for (const [key, word, kind] of TRIGGERS) {
      const t = step[key];
      if (!t) continue;
      const to = t.next || (ends(t.actions) ? END : null);
      if (to) add(id, to, `${word} ${t.after}`, kind);
    }
    if (step.next) add(id, step.next, "then", "next");
    if (!(step.options || []).length && !step.next && !TRIGGERS.some(([k]) => step[k])) add(id, END, "done", "next");
    if (ends(step.actions)) add(id, END, "ends", "next");
  }
  const nodes = Object.entries(steps).map(([id, s]) => ({ id, prompt: s.prompt || "", start: id === flow.start }));
  if (edges.some((e) => e.to === END)) nodes.push({ id: END, prompt: "", end: true });
  return { nodes, edges };
}

// Rows by breadth-first distance from the start (unreached steps last); x within a row.
export function layout(graph, start) {
  const depth = new Map([[start, 0]]);
  const todo = [start];
  while (todo.length) {
    const at = todo.shift();
    for (const e of graph.edges.filter((x) => x.from === at)) {
      if (!depth.has(e.to) && e.to !== END) {
        depth.set(e.to, depth.get(at) + 1);
        todo.push(e.to);
      }
    }
  }
  const deepest = Math.max(0, ...depth.values());
  for (const n of graph.nodes) if (!depth.has(n.id)) depth.set(n.id, n.end ? deepest + 1 : deepest + 1);
  const endRow = Math.max(...graph.nodes.map((n) => depth.get(n.id)));
  if (graph.nodes.some((n) => n.end)) depth.set(END, Math.max(endRow, deepest + 1));
  const rows = [];
  for (const n of graph.nodes) (rows[depth.get(n.id)] ||= []).push(n);
  const width = Math.max(...rows.filter(Boolean).map((r) => r.length)) * (W + GAP_X) + GAP_X;
  const pos = new Map();
  rows.forEach((row, y) => {
    if (!row) return;
    const offset = (width - row.length * (W + GAP_X) + GAP_X) / 2;
    row.forEach((n, i) => pos.set(n.id, { x: offset + i * (W + GAP_X), y: 24 + y * (H + GAP_Y), row: y }));
  });
  return { pos, width, height: 24 + rows.length * (H + GAP_Y) - GAP_Y + 24 };
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

// Two lines of a prompt, broken at a space.
function twoLines(text, n) {
  if (text.length <= n) return [text, ""];
  const cut = text.lastIndexOf(" ", n) > n / 2 ? text.lastIndexOf(" ", n) : n;
  return [text.slice(0, cut), clip(text.slice(cut).trim(), n)];
}

// To the next row: a cubic from the source's bottom to the target's top, pulled sideways by
// `bend` so that parallel edges (and their labels) stay apart; the label sits on the curve's
// middle. Anything else (skipping rows, going back): round the right-hand side, clear of the
// boxes in between.
function edgePath(a, b, bend, lane, aRight, bRight) {
  if (b.row === a.row + 1) {
    const sx = a.x + W / 2;
    const sy = a.y + H;
    const tx = b.x + W / 2;
    const ty = b.y - 6;
    const mx = (sx + tx) / 2 + bend;
    const c1 = sy + (ty - sy) * 0.45;
    const c2 = ty - (ty - sy) * 0.45;
    const lx = (sx + 3 * mx + 3 * mx + tx) / 8;
    const ly = (sy + 3 * c1 + 3 * c2 + ty) / 8;
    return { d: `M${sx},${sy} C${mx},${c1} ${mx},${c2} ${tx},${ty}`, lx, ly };
  }
  const sx = aRight;
  const sy = a.y + H / 2;
  const tx = bRight;
  const ty = b.y + H / 2;
  const out = Math.max(sx, tx) + 60 + lane * 70;
  return { d: `M${sx},${sy} C${out},${sy} ${out},${ty} ${tx + 6},${ty}`, lx: (sx + 6 * out + tx) / 8, ly: (sy + ty) / 2 };
}

export function FlowDiagram({ flow }) {
  const graph = flowGraph(flow);
  const { pos, width, height } = layout(graph, flow.start);
  const fromCount = new Map();
  const bends = graph.edges.map((e) => {
    const n = fromCount.get(`${e.from}>${e.to}`) || 0;
    fromCount.set(`${e.from}>${e.to}`, n + 1);
    return n;
  });
  return html`
    <figure class="diagram">
      <div class="diagram-scroll" tabindex="0" aria-label="Flow diagram (scrollable)">
        <svg viewBox=${`0 0 ${width + 220} ${height}`} width=${width + 220} height=${height} role="img"
             aria-labelledby="diagram-title">
          <title id="diagram-title">Steps of flow ${flow.id} and how each leads on</title>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
            </marker>
          </defs>
          ${graph.edges.map((e, i) => {
            const total = graph.edges.filter((x) => x.from === e.from && x.to === e.to).length;
            const bend = (bends[i] - (total - 1) / 2) * 120;
            const right = (id) => pos.get(id).x + (id === END ? W / 2 + 40 : W);
            const p = edgePath(pos.get(e.from), pos.get(e.to), bend, bends[i], right(e.from), right(e.to));
            const label = clip(e.label, 22);
            return html`<g class=${`edge ${e.kind}`}>
              <path d=${p.d} marker-end="url(#arrow)" />
              <rect x=${p.lx - label.length * 3.3 - 4} y=${p.ly - 9} width=${label.length * 6.6 + 8} height="17" rx="3" />
              <text x=${p.lx} y=${p.ly + 4} text-anchor="middle">${label}</text>
            </g>`;
          })}
          ${graph.nodes.map((n) => {
            const p = pos.get(n.id);
            return n.end
              ? html`<g class="node end"><rect x=${p.x + W / 2 - 40} y=${p.y + 12} width="80" height="38" rx="19" />
                  <text x=${p.x + W / 2} y=${p.y + 36} text-anchor="middle">end</text></g>`
              : html`<g class=${`node ${n.start ? "start" : ""}`} data-step=${n.id}>
                  <rect x=${p.x} y=${p.y} width=${W} height=${H} rx="8" />
                  <text x=${p.x + 10} y=${p.y + 20} class="name">${n.start ? "▶ " : ""}${clip(n.id, 24)}</text>
                  ${twoLines(n.prompt, 28).map((text, k) => html`<text x=${p.x + 10} y=${p.y + 38 + 15 * k}
                    class="prompt">${text}</text>`)}
                </g>`;
          })}
        </svg>
      </div>
      <figcaption>
        <details>
          <summary>Steps as text</summary>
          <ol class="outline">
            ${graph.nodes.filter((n) => !n.end).map((n) => html`
              <li><strong>${n.id}</strong>${n.start ? " (start)" : ""}${n.prompt ? `: “${n.prompt}”` : ""}
                <ul>${graph.edges.filter((e) => e.from === n.id).map((e) => html`<li>${e.label} → ${e.to}</li>`)}</ul>
              </li>`)}
          </ol>
        </details>
      </figcaption>
    </figure>`;
}
