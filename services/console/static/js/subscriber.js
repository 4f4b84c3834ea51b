// The subscriber beside a conversation: consent per program with its evidence history, labels,
// attributes, engagement score with its history, recent clicks. Each from its own /v1 call.
import { ApiError, get } from "./api.js";
import { Component, html } from "./lib.js";
import { when } from "./format.js";

async function orNull(promise) {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

export class SubscriberPanel extends Component {
  state = { data: null, error: null };

  componentDidMount() { this.load(); }
  componentDidUpdate(prev) { if (prev.refresh !== this.props.refresh) this.load(); }

  async load() {
    const p = encodeURIComponent(this.props.phone);
    try {
      const [profile, score, consent, clicks] = await Promise.all([
        orNull(get(`/v1/subscribers/${p}`)), orNull(get(`/v1/subscribers/${p}/score`, { limit: 20 })),
        orNull(get(`/v1/consent/${p}`)), orNull(get(`/v1/subscribers/${p}/clicks`, { limit: 10 })),
      ]);
      this.setState({ data: { profile, score, consent, clicks }, error: null });
    } catch (err) {
      this.setState({ error: err.message });
    }
  }

  render({ phone }, { data, error }) {
    return html`
      <aside class="panel" aria-labelledby="panel-title">
        <h2 id="panel-title">Subscriber</h2>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        ${!data ? html`<p aria-busy="true">Loading…</p>` : html`
          <${Consent} consent=${data.consent} />
          <${Profile} profile=${data.profile} />
          <${Score} profile=${data.profile} score=${data.score} />
          <${Clicks} clicks=${data.clicks} />`}
      </aside>`;
  }
}

function Consent({ consent }) {
  if (!consent) return null;
  const programs = Object.entries(consent.current || {});
  return html`
    <section aria-labelledby="consent-title">
      <h3 id="consent-title">Consent</h3>
      ${consent.do_not_contact && html`<p class="error">On the do-not-contact list</p>`}
      <ul class="consent">
        ${programs.map(([program, status]) => html`
          <li data-program=${program}><span>${program}</span>
            <span class=${`pill ${status || "none"}`}>${status ? status.replace("_", " ") : "no record"}</span></li>`)}
      </ul>
      ${consent.history.length > 0 && html`
        <details>
          <summary>Evidence (${consent.history.length})</summary>
          <ol class="evidence">
            ${consent.history.map((e) => html`
              <li>
                <strong>${e.event.replaceAll("_", " ")}</strong> · ${e.program_id} · ${e.status}
                <time datetime=${e.at}>${when(e.at)}</time>
                ${e.keyword && html`<div>keyword <code>${e.keyword}</code>${e.source ? ` via ${e.source}` : ""}</div>`}
                ${e.source_text && html`<div>text “${e.source_text}”</div>`}
                ${e.evidence && Object.keys(e.evidence).length > 0 && html`
                  <dl class="kv">${Object.entries(e.evidence).map(([k, v]) => html`<dt>${k}</dt><dd>${String(v)}</dd>`)}</dl>`}
              </li>`)}
          </ol>
        </details>`}
    </section>`;
}

function Profile({ profile }) {
  if (!profile) return html`<section><h3>Profile</h3><p class="muted">No profile yet.</p></section>`;
  const attrs = Object.entries(profile.attributes || {});
  return html`
    <section aria-labelledby="labels-title">
      <h3 id="labels-title">Labels</h3>
      ${profile.labels.length
        ? html`<ul class="chips" aria-label="Labels">${profile.labels.map((l) => html`<li class="chip">${l}</li>`)}</ul>`
        : html`<p class="muted">None.</p>`}
      <h3>Attributes</h3>
      ${attrs.length
        ? html`<dl class="kv">${attrs.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`
        : html`<p class="muted">None.</p>`}
      <p class="muted">${profile.replies} replies · ${profile.clicks} clicks · ${profile.messages_received} messages received</p>
    </section>`;
}

function Score({ profile, score }) {
  if (!profile || !score) return null;
  return html`
    <section aria-labelledby="score-title">
      <h3 id="score-title">Engagement score <span class="score" data-testid="score">${score.score}</span></h3>
      ${score.history.length > 0 && html`
        <details>
          <summary>History (${score.history.length})</summary>
          <table class="small">
            <caption class="sr-only">Score changes, newest first</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Rule</th><th scope="col">Change</th><th scope="col">After</th></tr></thead>
            <tbody>${score.history.map((h) => html`
              <tr><td>${when(h.at)}</td><td>${h.rule}</td><td>${h.delta > 0 ? `+${h.delta}` : h.delta}</td><td>${h.score_after}</td></tr>`)}
            </tbody>
          </table>
        </details>`}
    </section>`;
}

function Clicks({ clicks }) {
  if (!clicks) return null;
  return html`
    <section aria-labelledby="clicks-title">
      <h3 id="clicks-title">Recent clicks</h3>
      ${clicks.length === 0 ? html`<p class="muted">None.</p>` : html`
        <ul class="clicks">${clicks.map((c) => html`
          <li><span class="url">${c.url || c.code}</span>
            <span class="muted">${when(c.at)}${c.tag ? ` · ${c.tag}` : ""}${c.flow_id ? ` · ${c.flow_id}${c.step ? `/${c.step}` : ""}` : ""}</span></li>`)}
        </ul>`}
    </section>`;
}
