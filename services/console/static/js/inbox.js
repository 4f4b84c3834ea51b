// The agent desk: the live queue (unassigned / mine / all, oldest first, with the hand-off
// reason), a conversation with its transcript and the moves on it, the reply box, and the
// subscriber panel beside it.
import { ApiError, call, get, post, session } from "./api.js";
import { Component, createRef, debounce, html } from "./lib.js";
import { ago, when } from "./format.js";
import { SubscriberPanel } from "./subscriber.js";

const TABS = [["unassigned", "Unassigned"], ["mine", "Mine"], ["all", "All"]];

function shown(queue, tab) {
  if (tab === "unassigned") return queue.filter((c) => !c.assignee);
  if (tab === "mine") return queue.filter((c) => c.assignee === session.agent);
  return queue;
}

export class Inbox extends Component {
  state = { tab: "unassigned", cursor: 0 };

  componentDidMount() { window.addEventListener("keydown", this.onKey); }
  componentWillUnmount() { window.removeEventListener("keydown", this.onKey); }

  onKey = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    const items = shown(this.props.queue, this.state.tab);
    if (!items.length) return;
    const at = Math.min(this.state.cursor, items.length - 1);
    if (event.key === "j" || event.key === "k") {
      const cursor = Math.max(0, Math.min(items.length - 1, at + (event.key === "j" ? 1 : -1)));
      this.setState({ cursor });
      document.getElementById(`queue-${items[cursor].id}`)?.focus();
    } else if (event.key === "Enter" && !event.target.closest?.("a, button")) {
      location.hash = `#/inbox/${items[at].id}`;
    }
  };

  render({ id, queue, live }, { tab, cursor }) {
    const items = shown(queue, tab);
    return html`
      <div class="inbox">
        <section class="queue" aria-labelledby="queue-title">
          <div class="queue-head">
            <h1 id="queue-title">Inbox</h1>
            <span class=${`live ${live}`} role="status">${live === "live" ? "Live" : "Reconnecting…"}</span>
          </div>
          <div class="tabs" role="tablist" aria-label="Which conversations">
            ${TABS.map(([t, label]) => html`
              <button role="tab" aria-selected=${tab === t} class=${tab === t ? "on" : ""}
                      onClick=${() => this.setState({ tab: t, cursor: 0 })}>
                ${label} <span class="n">${shown(queue, t).length}</span>
              </button>`)}
          </div>
          ${items.length === 0
            ? html`<p class="empty">Nobody is waiting${tab === "mine" ? " for you" : ""}.</p>`
            : html`<ol class="queue-list" aria-label="Conversations waiting, oldest first">
                ${items.map((c, i) => html`
                  <li>
                    <a id=${`queue-${c.id}`} href=${`#/inbox/${c.id}`} data-phone=${c.phone}
                       class=${`${c.id === id ? "open" : ""} ${i === cursor ? "cursor" : ""}`}
                       aria-current=${c.id === id ? "true" : undefined}>
                      <span class="phone">${c.phone}</span>
                      <span class="reason">${c.reason || "hand-off"}</span>
                      <span class="meta">
                        <time datetime=${c.handed_off_at} title=${when(c.handed_off_at)}>${ago(c.handed_off_at)}</time>
                        ${c.assignee ? html` · ${c.assignee === session.agent ? "you" : c.assignee}` : " · unassigned"}
                      </span>
                    </a>
                  </li>`)}
              </ol>`}
        </section>
        ${id ? html`<${Conversation} id=${id} entry=${queue.find((c) => c.id === id)} key=${id} />`
             : html`<section class="conversation placeholder"><p>Pick a conversation from the queue
                 (<kbd>j</kbd>/<kbd>k</kbd>, <kbd>Enter</kbd>). <kbd>?</kbd> lists the shortcuts.</p></section>`}
      </div>`;
  }
}

class Conversation extends Component {
  state = { convo: null, error: null, notice: null, busy: false };
  reply = createRef();

  componentDidMount() {
    this.load();
    window.addEventListener("keydown", this.onKey);
  }

  componentWillUnmount() { window.removeEventListener("keydown", this.onKey); }

  componentDidUpdate(prev) {
    const a = prev.entry;
    const b = this.props.entry;
    // The queue stream says something changed (a new line, a claim, a resolve elsewhere).
    if (a?.last_line !== b?.last_line || a?.assignee !== b?.assignee || !!a !== !!b) this.load();
  }

  async load() {
    try {
      const convo = await get(`/v1/conversations/${this.props.id}`, { earlier: 30 });
      this.setState({ convo, error: null });
    } catch (err) {
      this.setState({ error: err.message });
    }
  }

  async act(path, body, done) {
    this.setState({ busy: true, notice: null });
    try {
      const convo = await post(`/v1/conversations/${this.props.id}/${path}`, body);
      this.setState({ convo: { ...this.state.convo, ...convo }, notice: { ok: true, text: done } });
      this.load();
    } catch (err) {
      this.setState({ notice: { ok: false, text: err.message } });
    } finally {
      this.setState({ busy: false });
    }
  }

  claim = (takeOver) => this.act("claim", { agent: session.agent, take_over: !!takeOver },
    takeOver ? "You took over this conversation." : "You claimed this conversation.");
  release = () => this.act("release", {}, "Released to the unassigned queue.");
  resolve = () => this.act("resolve", {}, "Resolved: automation answers again.");

  onKey = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    const c = this.state.convo;
    if (!c || c.status !== "agent" || this.state.busy) return;
    const mine = c.assignee === session.agent;
    if (event.key === "c" && !c.assignee) this.claim(false);
    else if (event.key === "t" && c.assignee && !mine) this.claim(true);
    else if (event.key === "u" && c.assignee) this.release();
    else if (event.key === "e") this.resolve();
    else if (event.key === "r") { event.preventDefault(); this.reply.current?.focus(); }
  };

  render({ id }, { convo: c, error, notice, busy }) {
    if (error) return html`<section class="conversation"><p class="error" role="alert">${error}</p></section>`;
    if (!c) return html`<section class="conversation"><p aria-busy="true">Loading…</p></section>`;
    const waiting = c.status === "agent";
    const mine = c.assignee === session.agent;
    return html`
      <div class="desk">
        <section class="conversation" aria-labelledby="convo-title">
          <header class="convo-head">
            <h2 id="convo-title">${c.phone}</h2>
            <p class="convo-meta">
              <span class=${`status ${c.status}`}>${waiting ? "with an agent" : c.status}</span>
              ${c.reason && html` · ${c.reason}`}
              ${c.end_reason && html` · ${c.end_reason}`}
              ${c.flow_id && html` · flow <a href=${`#/flows/${c.flow_id}`}>${c.flow_id}</a>${c.step ? ` at ${c.step}` : ""}`}
              ${waiting && html` · ${c.assignee ? html`assigned to <strong>${mine ? "you" : c.assignee}</strong>` : "unassigned"}`}
            </p>
            ${waiting && html`
              <div class="actions" role="group" aria-label="Conversation actions">
                ${!mine && html`<button onClick=${() => this.claim(false)} disabled=${busy}
                  title="c">Claim</button>`}
                ${c.assignee && !mine && html`<button onClick=${() => this.claim(true)} disabled=${busy}
                  title="t">Take over</button>`}
                ${c.assignee && html`<button onClick=${this.release} disabled=${busy} title="u">Release</button>`}
                <button onClick=${this.resolve} disabled=${busy} title="e">Resolve</button>
              </div>`}
            ${notice && html`<p class=${notice.ok ? "notice" : "error"} role=${notice.ok ? "status" : "alert"}>${notice.text}</p>`}
          </header>
          <${Transcript} lines=${c.transcript} earlier=${c.earlier || []} />
          ${waiting && html`<${ReplyBox} id=${id} convo=${c} inputRef=${this.reply} onSent=${() => this.load()} />`}
        </section>
        <${SubscriberPanel} phone=${c.phone} key=${c.phone} refresh=${c.transcript.length} />
      </div>`;
  }
}

function author(line) {
  if (line.author === "subscriber") return "Subscriber";
  if (line.author === "agent") return line.agent ? `Agent ${line.agent}` : "Agent";
  return "Automation";
}

class Transcript extends Component {
  end = createRef();

  componentDidMount() { this.end.current?.scrollIntoView({ block: "end" }); }
  componentDidUpdate(prev) {
    if (prev.lines.length !== this.props.lines.length) this.end.current?.scrollIntoView({ block: "end" });
  }

  render({ lines, earlier }) {
    const line = (t, old) => html`
      <li class=${`line ${t.author}${old ? " earlier" : ""}`} data-author=${t.author}>
        <span class="who">${author(t)}</span>
        <p class="body">${t.body}</p>
        <time datetime=${t.at}>${when(t.at)}</time>
      </li>`;
    return html`
      <ol class="transcript" aria-label="Transcript">
        ${earlier.length > 0 && html`<li class="divider"><span>Earlier</span></li>`}
        ${earlier.map((t) => line(t, true))}
        ${earlier.length > 0 && html`<li class="divider"><span>This conversation</span></li>`}
        ${lines.map((t) => line(t, false))}
        <li ref=${this.end} class="end" aria-hidden="true"></li>
      </ol>`;
  }
}

class ReplyBox extends Component {
  state = { body: "", preview: null, sending: false, notice: null };

  check = debounce(async (body) => {
    if (!body) return this.setState({ preview: null });
    try {
      const preview = await post("/v1/messages/preview", { body });
      if (body === this.state.body) this.setState({ preview });
    } catch (err) {
      if (body === this.state.body) this.setState({ preview: { error: err.message } });
    }
  }, 200);

  componentWillUnmount() { this.check.cancel(); }

  onInput = (event) => {
    this.setState({ body: event.target.value, notice: null });
    this.check(event.target.value);
  };

  onKeyDown = (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) this.send(event);
    if (event.key === "Escape") event.target.blur();
  };

  send = async (event) => {
    event.preventDefault();
    const body = this.state.body.trim();
    if (!body || this.state.sending) return;
    this.setState({ sending: true, notice: null });
    try {
      await call("POST", `/v1/conversations/${this.props.id}/reply`, {
        json: { body, agent: session.agent },
      });
      this.setState({ body: "", preview: null, notice: { ok: true, text: "Sent." } });
      this.props.onSent();
    } catch (err) {
      const text = err instanceof ApiError && err.status === 409 ? `Not sent: ${err.message}` : err.message;
      this.setState({ notice: { ok: false, text } });
    } finally {
      this.setState({ sending: false });
    }
  };

  render({ convo, inputRef }, { body, preview, sending, notice }) {
    const blocked = convo.send_blocked;
    const other = convo.assignee && convo.assignee !== session.agent;
    return html`
      <form class="reply" onSubmit=${this.send} aria-label="Reply">
        <label for="reply-body">Reply to ${convo.phone}</label>
        ${blocked && html`<p class="error" role="alert" id="reply-blocked">Cannot send: ${blocked}</p>`}
        ${!blocked && other && html`<p class="warn" id="reply-other">Assigned to ${convo.assignee}: take it over to reply.</p>`}
        <textarea id="reply-body" ref=${inputRef} rows="3" value=${body} onInput=${this.onInput}
                  onKeyDown=${this.onKeyDown} disabled=${!!blocked}
                  aria-describedby="reply-cost ${blocked ? "reply-blocked" : ""}"
                  placeholder=${blocked ? "" : "Type a reply (Ctrl+Enter sends)"}></textarea>
        <div class="reply-foot">
          <${Cost} preview=${preview} />
          <button type="submit" disabled=${!!blocked || sending || !body.trim() || preview?.too_long}>
            ${sending ? "Sending…" : "Send"}
          </button>
        </div>
        ${notice && html`<p class=${notice.ok ? "notice" : "error"} role=${notice.ok ? "status" : "alert"}>${notice.text}</p>`}
      </form>`;
  }
}

function Cost({ preview: p }) {
  if (!p) return html`<p class="cost" id="reply-cost" aria-live="polite">0 characters</p>`;
  if (p.error) return html`<p class="cost error" id="reply-cost" aria-live="polite">${p.error}</p>`;
  const swaps = p.replaced.map((r) => `${r.char} → ${r.with}`).join(", ");
  return html`
    <p class="cost" id="reply-cost" aria-live="polite">
      <span data-testid="characters">${p.characters} characters</span> ·
      <span data-testid="segments">${p.segments} ${p.segments === 1 ? "segment" : "segments"}</span> ·
      <span data-testid="encoding">${p.encoding}</span>
      ${p.ucs2_characters.length > 0 && html` · <span class="warn">${p.ucs2_characters.join(" ")} need UCS-2</span>`}
      ${swaps && html` · replaced ${swaps}`}
      ${p.too_long && html` · <strong class="error">over ${p.max_characters} characters</strong>`}
    </p>`;
}
