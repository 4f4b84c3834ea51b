// The console shell: sign-in, navigation, the live agent queue (shared by every page, so the
// Inbox badge stays current), and hash routes (#/inbox/<id>, #/flows/<id>, #/metrics, …).
import { ApiError, configure, get, session, stream } from "./api.js";
import { Component, html, render } from "./lib.js";
import { Inbox } from "./inbox.js";
import { Campaigns, Flows } from "./flows.js";
import { Metrics } from "./metrics.js";
import { Experiments } from "./experiments.js";

const SECTIONS = [
  ["inbox", "Inbox"], ["flows", "Flows"], ["campaigns", "Campaigns"], ["metrics", "Metrics"],
  ["experiments", "Experiments"],
];

function route() {
  const [section = "inbox", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { section: SECTIONS.some(([s]) => s === section) ? section : "inbox", id: rest.join("/") || null };
}

class SignIn extends Component {
  state = { key: "", agent: "", error: null, busy: false };

  submit = async (event) => {
    event.preventDefault();
    const key = this.state.key.trim();
    const agent = this.state.agent.trim();
    this.setState({ busy: true, error: null });
    try {
      await get("/v1/conversations", { limit: 1 }, { key });
      session.signIn(key, agent);
      this.props.onSignedIn();
    } catch (err) {
      const error = err instanceof ApiError && err.status === 401
        ? "That API key was refused. Check it and try again."
        : `Parley could not be reached: ${err.message}`;
      this.setState({ error, busy: false });
    }
  };

  render(_, { key, agent, error, busy }) {
    return html`
      <main class="signin" id="main">
        <form onSubmit=${this.submit} aria-describedby="signin-help">
          <h1>Parley console</h1>
          <p id="signin-help">Sign in with your tenant's API key. It is kept in this tab only
            (session storage) and sent to Parley's API as a bearer token.</p>
          <label for="agent">Your name (what subscribers' conversations record as the agent)</label>
          <input id="agent" name="agent" autocomplete="username" required value=${agent}
                 onInput=${(e) => this.setState({ agent: e.target.value })} placeholder="ana@shop.example" />
          <label for="key">API key</label>
          <input id="key" name="key" type="password" autocomplete="current-password" required value=${key}
                 onInput=${(e) => this.setState({ key: e.target.value })} />
          ${error && html`<p class="error" role="alert">${error}</p>`}
          <button type="submit" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
        </form>
      </main>`;
  }
}

class App extends Component {
  state = { signedIn: !!session.key, route: route(), queue: [], live: "connecting", help: false };

  componentDidMount() {
    window.addEventListener("hashchange", this.onHash);
    window.addEventListener("parley:signed-out", this.signOut);
    window.addEventListener("keydown", this.onKey);
    if (this.state.signedIn) this.listen();
  }

  componentWillUnmount() {
    this.stopStream?.();
  }

  onHash = () => this.setState({ route: route() });

  listen() {
    this.stopStream?.();
    this.stopStream = stream("/v1/conversations/events",
      (event, data) => event === "queue" && this.setState({ queue: data }),
      (live) => this.setState({ live }));
  }

  signedIn = () => {
    this.setState({ signedIn: true });
    this.listen();
  };

  signOut = () => {
    this.stopStream?.();
    session.signOut();
    this.setState({ signedIn: false, queue: [] });
  };

  onKey = (event) => {
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    if (event.key === "?") this.setState({ help: !this.state.help });
    if (event.key === "Escape" && this.state.help) this.setState({ help: false });
  };

  render(_, { signedIn, route: r, queue, live, help }) {
    if (!signedIn) return html`<${SignIn} onSignedIn=${this.signedIn} />`;
    const waiting = queue.filter((c) => !c.assignee).length;
    const page = {
      inbox: html`<${Inbox} id=${r.id} queue=${queue} live=${live} />`,
      flows: html`<${Flows} id=${r.id} />`,
      campaigns: html`<${Campaigns} id=${r.id} />`,
      metrics: html`<${Metrics} />`,
      experiments: html`<${Experiments} id=${r.id} />`,
    }[r.section];
    return html`
      <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>Skip to content</a>
      <header class="top">
        <span class="brand">Parley</span>
        <nav aria-label="Sections">
          ${SECTIONS.map(([s, label]) => html`
            <a href=${`#/${s}`} aria-current=${r.section === s ? "page" : undefined}>
              ${label}${s === "inbox" && waiting ? html` <span class="badge" aria-label=${`${waiting} waiting`}>${waiting}</span>` : ""}
            </a>`)}
        </nav>
        <span class="who">
          <span class="agent-name" title="Signed in as">${session.agent}</span>
          <button class="link" onClick=${this.signOut}>Sign out</button>
        </span>
      </header>
      <main id="main" tabindex="-1">${page}</main>
      ${help && html`<${Shortcuts} onClose=${() => this.setState({ help: false })} />`}`;
  }
}

function Shortcuts({ onClose }) {
  const keys = [
    ["j / k", "next / previous conversation in the queue"], ["Enter", "open it"],
    ["c", "claim"], ["t", "take over"], ["u", "release"], ["e", "resolve"],
    ["r", "write a reply"], ["Ctrl+Enter", "send the reply"], ["Esc", "leave the reply box"],
    ["?", "this help"],
  ];
  return html`
    <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="shortcuts-title">
      <h2 id="shortcuts-title">Keyboard shortcuts</h2>
      <dl class="keys">${keys.map(([k, v]) => html`<dt><kbd>${k}</kbd></dt><dd>${v}</dd>`)}</dl>
      <button onClick=${onClose} autofocus>Close</button>
    </div>`;
}

await configure();
const root = document.getElementById("app");
root.textContent = "";  // the boot message
render(html`<${App} />`, root);
