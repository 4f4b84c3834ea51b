// The metrics dashboard: the six reply metrics plus delivered and opt-out rate for a window and a
// scope (campaign, flow, step), split by variant on request, as numbers (exactly /v1/metrics for
// the window shown) and charts over time (/v1/metrics/series, the same computation per hour or
// day); the unmatched-reply insights where the API offers them.
import { ApiError, get } from "./api.js";
import { Component, createRef, html } from "./lib.js";
import { count, pct, seconds, toLocalInput, when } from "./format.js";
import uPlot from "../vendor/uplot-1.6.32.esm.js";

export const CARDS = [
  ["reply_rate", "Reply rate", pct], ["keyword_match_rate", "Keyword match rate", pct],
  ["completion_rate", "Completion rate", pct], ["reply_to_click_rate", "Reply → click", pct],
  ["reply_to_conversion_rate", "Reply → conversion", pct],
  ["median_time_to_reply_s", "Median time to reply", seconds],
  ["delivered", "Delivered", count], ["opt_out_rate", "Opt-out rate", pct],
];
const PRESETS = [["24h", "Last 24 hours", 1], ["7d", "Last 7 days", 7], ["30d", "Last 30 days", 30],
  ["custom", "Custom", null]];
const COLORS = ["#1f4b99", "#b3471d", "#2f7d32", "#7a3e9d", "#8a6d00", "#006d77"];

function windowOf(preset, start, end) {
  if (preset === "custom") return { start: new Date(start), end: new Date(end) };
  const days = PRESETS.find(([p]) => p === preset)[2];
  const stop = new Date();
  return { start: new Date(stop.getTime() - days * 86400e3), end: stop };
}

export class Metrics extends Component {
  state = {
    preset: "7d", start: toLocalInput(new Date(Date.now() - 7 * 86400e3)), end: toLocalInput(new Date()),
    scope: "", byVariant: false, flows: [], campaigns: [], data: null, series: null, insights: null,
    error: null, busy: false,
  };

  async componentDidMount() {
    try {
      const [flows, campaigns] = await Promise.all([get("/v1/flows"), get("/v1/campaigns")]);
      this.setState({ flows, campaigns });
    } catch (err) {
      this.setState({ error: err.message });
    }
    this.load();
  }

  params() {
    const { start, end } = windowOf(this.state.preset, this.state.start, this.state.end);
    const [kind, a, b] = this.state.scope.split(":");
    return {
      start: start.toISOString(), end: end.toISOString(),
      campaign_id: kind === "campaign" ? a : undefined, flow_id: kind === "flow" || kind === "step" ? a : undefined,
      step: kind === "step" ? b : undefined, group_by: this.state.byVariant ? "variant" : undefined,
    };
  }

  load = async (event) => {
    event?.preventDefault();
    const params = this.params();
    if (new Date(params.start) >= new Date(params.end)) {
      return this.setState({ error: "The window must start before it ends." });
    }
    const hours = (new Date(params.end) - new Date(params.start)) / 3600e3;
    this.setState({ busy: true, error: null });
    try {
      const [data, series, insights] = await Promise.all([
        get("/v1/metrics", params),
        get("/v1/metrics/series", { ...params, bucket: hours <= 72 ? "hour" : "day" }),
        get("/v1/insights/unmatched", { start: params.start, end: params.end }).catch((err) => {
          if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return null;
          throw err;
        }),
      ]);
      this.setState({ data, series, insights });
    } catch (err) {
      this.setState({ error: err.message });
    } finally {
      this.setState({ busy: false });
    }
  };

  render(_, s) {
    const { data, series } = s;
    return html`
      <section class="metrics" aria-labelledby="metrics-title">
        <h1 id="metrics-title">Metrics</h1>
        <form class="filters" onSubmit=${this.load}>
          <div class="field">
            <label for="m-window">Window</label>
            <select id="m-window" value=${s.preset} onChange=${(e) => this.setState({ preset: e.target.value })}>
              ${PRESETS.map(([p, label]) => html`<option value=${p}>${label}</option>`)}
            </select>
          </div>
          ${s.preset === "custom" && html`
            <div class="field"><label for="m-start">From</label>
              <input id="m-start" type="datetime-local" value=${s.start} onInput=${(e) => this.setState({ start: e.target.value })} /></div>
            <div class="field"><label for="m-end">To</label>
              <input id="m-end" type="datetime-local" value=${s.end} onInput=${(e) => this.setState({ end: e.target.value })} /></div>`}
          <div class="field">
            <label for="m-scope">Scope</label>
            <select id="m-scope" value=${s.scope} onChange=${(e) => this.setState({ scope: e.target.value })}>
              <option value="">Everything</option>
              <optgroup label="Campaigns">${s.campaigns.map((c) => html`<option value=${`campaign:${c.id}`}>${c.id}</option>`)}</optgroup>
              <optgroup label="Flows">${s.flows.map((f) => html`<option value=${`flow:${f.id}`}>${f.id}</option>`)}</optgroup>
              <optgroup label="Flow steps">${s.flows.flatMap((f) => Object.keys(f.steps).map((step) =>
                html`<option value=${`step:${f.id}:${step}`}>${f.id} › ${step}</option>`))}</optgroup>
            </select>
          </div>
          <div class="field check">
            <input id="m-variant" type="checkbox" checked=${s.byVariant} onChange=${(e) => this.setState({ byVariant: e.target.checked })} />
            <label for="m-variant">Split by variant</label>
          </div>
          <button type="submit" disabled=${s.busy}>${s.busy ? "Loading…" : "Show"}</button>
        </form>
        ${s.error && html`<p class="error" role="alert">${s.error}</p>`}
        ${data && html`
          <p class="window" data-start=${data.start} data-end=${data.end}>
            ${when(data.start)} – ${when(data.end)}${Object.keys(data.filters).length ? ` · ${Object.entries(data.filters).map(([k, v]) => `${k.replace("_id", "")} ${v}`).join(", ")}` : ""}
          </p>
          ${data.groups.map((g) => html`<${Cards} group=${g} split=${s.byVariant} />`)}
          ${series && html`<${Charts} series=${series} split=${s.byVariant} />`}
          ${s.insights && html`<${Insights} insights=${s.insights} />`}`}
      </section>`;
  }
}

function variantName(group) {
  return group.key.variant === null || group.key.variant === undefined ? "no variant" : `variant ${group.key.variant}`;
}

function Cards({ group, split }) {
  const label = split ? variantName(group) : "all";
  return html`
    <section class="cards-group" data-group=${label} aria-label=${`Metrics, ${label}`}>
      ${split && html`<h2>${variantName(group)}</h2>`}
      <ul class="cards">
        ${CARDS.map(([name, title, fmt]) => html`
          <li class="card" data-metric=${name} data-value=${group[name] === null ? "null" : String(group[name])}>
            <span class="card-title">${title}</span>
            <span class="card-value">${fmt(group[name])}</span>
          </li>`)}
      </ul>
      <p class="muted counts">${[`${count(group.replies)} replies`, `${count(group.recognised_replies)} recognised`,
        `${count(group.conversations_started)} conversations started, ${count(group.conversations_completed)} completed`,
        `${count(group.opt_outs)} opt-outs`].join(" · ")}</p>
    </section>`;
}

// uPlot wants data as columns: [xs, ys1, ys2, …] with x in seconds.
function columns(series, pick) {
  const keys = [];
  for (const p of series.points) for (const g of p.groups) {
    const k = JSON.stringify(g.key);
    if (!keys.includes(k)) keys.push(k);
  }
  const xs = series.points.map((p) => new Date(p.start).getTime() / 1000);
  const ys = keys.map((k) => series.points.map((p) => {
    const g = p.groups.find((x) => JSON.stringify(x.key) === k);
    return g ? pick(g) : null;
  }));
  return { keys: keys.map((k) => JSON.parse(k)), data: [xs, ...ys] };
}

class Chart extends Component {
  box = createRef();

  componentDidMount() {
    this.draw();
    this.resize = new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: 220 }));
    this.resize.observe(this.box.current);
  }

  componentDidUpdate() { this.draw(); }

  componentWillUnmount() {
    this.resize?.disconnect();
    this.plot?.destroy();
  }

  width() { return Math.max(260, this.box.current.clientWidth); }

  draw() {
    this.plot?.destroy();
    const { data, labels, percent } = this.props;
    const opts = {
      width: this.width(), height: 220,
      series: [{}, ...labels.map((label, i) => ({
        label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
        value: (_, v) => (v === null || v === undefined ? "—" : percent ? pct(v) : count(v)),
      }))],
      axes: [{}, { values: (_, ticks) => ticks.map((v) => (percent ? `${Math.round(v * 100)}%` : v)) }],
      scales: { y: percent ? { range: [0, 1] } : {} },
      legend: { live: true },
    };
    this.plot = new uPlot(opts, data, this.box.current);
  }

  render({ title, summary }) {
    return html`<figure class="chart"><figcaption>${title}</figcaption>
      <div ref=${this.box} class="chart-box" role="img" aria-label=${`${title}: ${summary}`}></div></figure>`;
  }
}

function Charts({ series, split }) {
  const name = (key) => (split ? variantName({ key }) : "all");
  const volume = split
    ? columns(series, (g) => g.replies)
    : { keys: ["delivered", "replies", "opt-outs"], data: [series.points.map((p) => new Date(p.start).getTime() / 1000),
      ...["delivered", "replies", "opt_outs"].map((m) => series.points.map((p) => p.groups[0]?.[m] ?? 0))] };
  const rates = columns(series, (g) => g.reply_rate);
  const total = series.points.reduce((n, p) => n + p.groups.reduce((m, g) => m + g.replies, 0), 0);
  return html`
    <div class="charts">
      <${Chart} title=${split ? `Replies per ${series.bucket}, by variant` : `Delivered, replies and opt-outs per ${series.bucket}`}
        summary=${`${total} replies in ${series.points.length} ${series.bucket}s`}
        data=${volume.data} labels=${split ? volume.keys.map(name) : volume.keys} />
      <${Chart} title=${`Reply rate per ${series.bucket}${split ? ", by variant" : ""}`} percent=${true}
        summary=${`reply rate over ${series.points.length} ${series.bucket}s`}
        data=${rates.data} labels=${rates.keys.map(name)} />
    </div>`;
}

function Insights({ insights }) {
  const items = Array.isArray(insights) ? insights : insights.items || insights.groups || [];
  if (!items.length) return html`<section class="insights"><h2>Unmatched replies</h2><p class="muted">None in this window.</p></section>`;
  const cols = Object.keys(items[0]).filter((k) => typeof items[0][k] !== "object").slice(0, 5);
  return html`
    <section class="insights" aria-labelledby="insights-title">
      <h2 id="insights-title">Unmatched replies</h2>
      <div class="table-scroll"><table class="list">
        <thead><tr>${cols.map((c) => html`<th scope="col">${c.replaceAll("_", " ")}</th>`)}</tr></thead>
        <tbody>${items.slice(0, 20).map((it) => html`<tr>${cols.map((c) => html`<td>${String(it[c] ?? "")}</td>`)}</tr>`)}</tbody>
      </table></div>
    </section>`;
}
