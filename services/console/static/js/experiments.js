// Experiments: each variant's sends, successes, rate with its 95% interval and probability of
// being best (the /report), and promoting a winner (/promote).
import { get, post } from "./api.js";
import { Component, html } from "./lib.js";
import { count, pct, when } from "./format.js";

export class Experiments extends Component {
  state = { items: null, error: null };

  componentDidMount() { this.load(); }

  async load() {
    try {
      this.setState({ items: await get("/v1/experiments"), error: null });
    } catch (err) {
      this.setState({ error: err.message });
    }
  }

  render({ id }, { items, error }) {
    if (id) return html`<${Experiment} id=${id} key=${id} />`;
    return html`
      <section aria-labelledby="exp-title">
        <h1 id="exp-title">Experiments</h1>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        ${!items ? html`<p aria-busy="true">Loading…</p>` : items.length === 0
          ? html`<p class="empty">No experiments yet (POST /v1/experiments).</p>` : html`
          <div class="table-scroll"><table class="list">
            <caption class="sr-only">Experiments</caption>
            <thead><tr><th scope="col">Id</th><th scope="col">Tests</th><th scope="col">Goal</th>
              <th scope="col">Variants</th><th scope="col">State</th></tr></thead>
            <tbody>${items.map((e) => html`
              <tr data-id=${e.id}>
                <th scope="row"><a href=${`#/experiments/${e.id}`}>${e.name || e.id}</a></th>
                <td>${e.flow_id ? `${e.flow_id} › ${e.step}` : `campaign ${e.campaign_id}`}</td>
                <td>${e.goal}</td><td>${e.variants.map((v) => v.key).join(", ")}</td>
                <td><span class=${`pill ${e.state}`}>${e.state}</span>${e.winner ? ` (${e.winner})` : ""}</td>
              </tr>`)}
            </tbody>
          </table></div>`}
      </section>`;
  }
}

class Experiment extends Component {
  state = { exp: null, report: null, error: null, confirm: null, notice: null };

  componentDidMount() { this.load(); }

  async load() {
    const id = encodeURIComponent(this.props.id);
    try {
      const [exp, report] = await Promise.all([get(`/v1/experiments/${id}`), get(`/v1/experiments/${id}/report`)]);
      this.setState({ exp, report, error: null });
    } catch (err) {
      this.setState({ error: err.message });
    }
  }

  promote = async (variant) => {
    try {
      await post(`/v1/experiments/${encodeURIComponent(this.props.id)}/promote`, { variant });
      this.setState({ confirm: null, notice: `Variant ${variant} promoted: every future prompt uses it.` });
      this.load();
    } catch (err) {
      this.setState({ confirm: null, error: err.message });
    }
  };

  render(_, { exp, report, error, confirm, notice }) {
    if (error) return html`<p class="error" role="alert">${error}</p>`;
    if (!exp) return html`<p aria-busy="true">Loading…</p>`;
    const open = exp.state === "running";
    return html`
      <section class="experiment" aria-labelledby="exp-title">
        <p class="crumbs"><a href="#/experiments">Experiments</a> ›</p>
        <h1 id="exp-title">${exp.name || exp.id}</h1>
        <p class="muted">
          ${exp.flow_id ? html`Prompt of <a href=${`#/flows/${exp.flow_id}`}>${exp.flow_id}</a> › ${exp.step}` : `Campaign ${exp.campaign_id}`}
          · goal: ${exp.goal} · ${exp.allocation} allocation
          · <span class=${`pill ${exp.state}`} data-testid="state">${exp.state}</span>
          ${exp.winner && html` · winner <strong data-testid="winner">${exp.winner}</strong> (${exp.promoted_by}, ${when(exp.promoted_at)})`}
        </p>
        ${notice && html`<p class="notice" role="status">${notice}</p>`}
        <div class="table-scroll"><table class="list arms">
          <caption>Variants. Promotion ${exp.auto_promote ? `is automatic once P(best) ≥ ${pct(exp.threshold)} with ${exp.min_sends} sends each` : "is by hand"}.</caption>
          <thead><tr><th scope="col">Variant</th><th scope="col">Prompt</th><th scope="col">Sends</th>
            <th scope="col">Successes</th><th scope="col">Rate (95% interval)</th><th scope="col">P(best)</th>
            <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${report.arms.map((a) => html`
            <tr data-variant=${a.key} class=${report.leader === a.key ? "leader" : ""}>
              <th scope="row">${a.key}${report.leader === a.key ? html` <span class="pill on">leading</span>` : ""}</th>
              <td class="prompt">${a.prompt}</td>
              <td>${count(a.sends)}</td><td>${count(a.successes)}</td>
              <td><${Interval} arm=${a} /></td>
              <td data-testid="prob-best">${pct(a.prob_best)}</td>
              <td>${open && html`<button class="small" onClick=${() => this.setState({ confirm: a.key })}>Promote ${a.key}</button>`}</td>
            </tr>`)}
          </tbody>
        </table></div>
        ${confirm && html`
          <div class="dialog" role="alertdialog" aria-modal="true" aria-labelledby="promote-title" aria-describedby="promote-text">
            <h2 id="promote-title">Promote variant ${confirm}?</h2>
            <p id="promote-text">Every future prompt of this step is sent with variant ${confirm}; the test stops choosing.</p>
            <div class="actions">
              <button onClick=${() => this.promote(confirm)} autofocus>Promote ${confirm}</button>
              <button class="secondary" onClick=${() => this.setState({ confirm: null })}>Cancel</button>
            </div>
          </div>`}
      </section>`;
  }
}

function Interval({ arm }) {
  const [lo, hi] = arm.interval95;
  return html`<span class="interval">${pct(arm.rate)} <span class="muted">(${pct(lo)}–${pct(hi)})</span>
    <span class="bar" aria-hidden="true"><span class="range"
      style=${{ left: `${lo * 100}%`, width: `${Math.max(1, (hi - lo) * 100)}%` }}></span></span></span>`;
}
