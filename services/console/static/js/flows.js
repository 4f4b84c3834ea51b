// Flows and campaigns: lists with activate/deactivate, a flow's diagram, and a YAML editor that
// shows the server's validation errors at the lines they name.
import { ApiError, call, get, post } from "./api.js";
import { Component, createRef, html } from "./lib.js";
import { when } from "./format.js";
import { FlowDiagram } from "./diagram.js";

function Toggle({ item, kind, onChange }) {
  const verb = item.active === false ? "activate" : "deactivate";
  const click = async () => {
    try {
      onChange(await post(`/v1/${kind}/${item.id}/${verb}`), null);
    } catch (err) {
      onChange(null, err.message);
    }
  };
  return html`<button class="small" onClick=${click} aria-label=${`${verb[0].toUpperCase()}${verb.slice(1)} ${item.id}`}>
    ${verb === "activate" ? "Activate" : "Deactivate"}</button>`;
}

function Active({ item }) {
  return item.active === false ? html`<span class="pill off">inactive</span>` : html`<span class="pill on">active</span>`;
}

class DefinitionList extends Component {
  state = { items: null, error: null };

  componentDidMount() { this.load(); }

  async load() {
    try {
      this.setState({ items: await get(`/v1/${this.props.kind}`), error: null });
    } catch (err) {
      this.setState({ error: err.message });
    }
  }

  changed = (row, error) => {
    if (error) return this.setState({ error });
    this.setState({ items: this.state.items.map((i) => (i.id === row.id ? row : i)), error: null });
  };

  render({ kind, title, columns }, { items, error }) {
    return html`
      <section aria-labelledby="list-title">
        <h1 id="list-title">${title}</h1>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        ${!items ? html`<p aria-busy="true">Loading…</p>` : items.length === 0 ? html`<p class="empty">None yet.</p>` : html`
          <div class="table-scroll">
            <table class="list">
              <caption class="sr-only">${title}</caption>
              <thead><tr><th scope="col">Id</th>${columns.map(([h, , wide]) => html`<th scope="col" class=${wide ? "wide" : ""}>${h}</th>`)}<th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
              <tbody>${items.map((item) => html`
                <tr data-id=${item.id}>
                  <th scope="row"><a href=${`#/${kind}/${item.id}`}>${item.id}</a></th>
                  ${columns.map(([, cell, wide]) => html`<td class=${wide ? "wide" : ""}>${cell(item)}</td>`)}
                  <td><${Active} item=${item} /></td>
                  <td><${Toggle} item=${item} kind=${kind} onChange=${this.changed} /></td>
                </tr>`)}
              </tbody>
            </table>
          </div>`}
      </section>`;
  }
}

// [header, cell, hidden on narrow screens]
const FLOW_COLUMNS = [["Name", (f) => f.name], ["Steps", (f) => Object.keys(f.steps).length, true],
  ["Kind", (f) => f.kind, true], ["Version", (f) => f.version, true], ["Updated", (f) => when(f.updated_at), true]];
const CAMPAIGN_COLUMNS = [["Name", (c) => c.name, true], ["Keywords", (c) => c.keywords.join(", ")],
  ["Does", (c) => [...c.actions.map((a) => a.type === "start_flow" ? `start ${a.flow}` : a.type),
    ...(c.join ? [`join ${c.join}`] : [])].join(", ")]];

export function Flows({ id }) {
  return id ? html`<${Definition} kind="flows" id=${id} key=${id} />`
    : html`<${DefinitionList} kind="flows" title="Flows" columns=${FLOW_COLUMNS} />`;
}

export function Campaigns({ id }) {
  return id ? html`<${Definition} kind="campaigns" id=${id} key=${id} />`
    : html`<${DefinitionList} kind="campaigns" title="Campaigns" columns=${CAMPAIGN_COLUMNS} />`;
}

class Definition extends Component {
  state = { item: null, yaml: null, tab: "diagram", error: null };

  componentDidMount() { this.load(); }

  async load() {
    const { kind, id } = this.props;
    try {
      const [item, yaml] = await Promise.all([get(`/v1/${kind}/${id}`),
        call("GET", `/v1/${kind}/${id}`, { accept: "application/yaml" })]);
      this.setState({ item, yaml, error: null, tab: kind === "flows" ? this.state.tab : "yaml" });
    } catch (err) {
      this.setState({ error: err.message });
    }
  }

  saved = (item, yaml) => this.setState({ item, yaml });

  render({ kind, id }, { item, yaml, tab, error }) {
    const noun = kind === "flows" ? "Flow" : "Campaign";
    if (error) return html`<p class="error" role="alert">${error}</p>`;
    if (!item) return html`<p aria-busy="true">Loading…</p>`;
    const tabs = kind === "flows" ? [["diagram", "Diagram"], ["yaml", "Edit YAML"]] : [["yaml", "Edit YAML"]];
    return html`
      <section class="definition" aria-labelledby="def-title">
        <p class="crumbs"><a href=${`#/${kind}`}>${noun}s</a> ›</p>
        <div class="def-head">
          <h1 id="def-title">${noun} ${id}</h1>
          <${Active} item=${item} />
          <${Toggle} item=${item} kind=${kind} onChange=${(row, err) => row ? this.load() : this.setState({ error: err })} />
          ${item.version && html`<span class="muted">version ${item.version}</span>`}
        </div>
        ${item.name && html`<p class="muted">${item.name}</p>`}
        <div class="tabs" role="tablist" aria-label="View">
          ${tabs.map(([t, label]) => html`<button role="tab" aria-selected=${tab === t} class=${tab === t ? "on" : ""}
            onClick=${() => this.setState({ tab: t })}>${label}</button>`)}
        </div>
        ${tab === "diagram" ? html`<${FlowDiagram} flow=${item} />`
          : html`<${Editor} kind=${kind} id=${id} yaml=${yaml} onSaved=${this.saved} />`}
      </section>`;
  }
}

export class Editor extends Component {
  state = { text: this.props.yaml, errors: [], notice: null, saving: false };
  area = createRef();
  gutter = createRef();

  save = async (event) => {
    event.preventDefault();
    const { kind, id } = this.props;
    this.setState({ saving: true, notice: null });
    try {
      const item = await call("PUT", `/v1/${kind}/${id}`, { yaml: this.state.text });
      this.setState({ errors: [], notice: `Saved${item.version ? ` (version ${item.version})` : ""}.` });
      this.props.onSaved(item, this.state.text);
    } catch (err) {
      const detail = err instanceof ApiError ? err.detail : null;
      const errors = Array.isArray(detail) ? detail : [{ loc: [], msg: err.message }];
      this.setState({ errors });
    } finally {
      this.setState({ saving: false });
    }
  };

  goTo(line) {
    const area = this.area.current;
    const lines = this.state.text.split("\n");
    const at = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    area.focus();
    area.setSelectionRange(at, at + (lines[line - 1] || "").length);
    area.scrollTop = Math.max(0, (line - 3) * 20);
    this.syncScroll();
  }

  syncScroll = () => {
    if (this.gutter.current) this.gutter.current.scrollTop = this.area.current.scrollTop;
  };

  render(_, { text, errors, notice, saving }) {
    const bad = new Map(errors.filter((e) => e.line).map((e) => [e.line, e]));
    const count = text.split("\n").length;
    return html`
      <form class="editor" onSubmit=${this.save}>
        <label for="yaml">Definition (YAML)</label>
        <div class="code">
          <div class="gutter" ref=${this.gutter} aria-hidden="true">
            ${Array.from({ length: count }, (_, i) => html`<div class=${bad.has(i + 1) ? "bad" : ""}
              data-line=${i + 1}>${i + 1}</div>`)}
          </div>
          <textarea id="yaml" ref=${this.area} spellcheck="false" value=${text} rows="22"
                    aria-invalid=${errors.length > 0} aria-describedby="yaml-errors"
                    onInput=${(e) => this.setState({ text: e.target.value })} onScroll=${this.syncScroll}></textarea>
        </div>
        <div id="yaml-errors" aria-live="polite">
          ${errors.length > 0 && html`
            <div class="errors" role="alert">
              <p>${errors.length === 1 ? "1 problem" : `${errors.length} problems`}: not saved.</p>
              <ul>${errors.map((e) => html`
                <li class="yaml-error" data-line=${e.line || ""}>
                  ${e.line ? html`<button type="button" class="link" onClick=${() => this.goTo(e.line)}>Line ${e.line}</button>: ` : ""}
                  ${e.loc && e.loc.length ? html`<code>${e.loc.join(".")}</code> ` : ""}${e.msg}
                </li>`)}
              </ul>
            </div>`}
          ${notice && html`<p class="notice" role="status">${notice}</p>`}
        </div>
        <button type="submit" disabled=${saving}>${saving ? "Saving…" : "Save"}</button>
      </form>`;
  }
}
