// One conversation: who the customer is, the whole history (earlier conversations on every
// linked channel first), and what the agent can do with it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { clock, num } from '../store.js';
import { send } from '../stream.js';
import { channelName } from '../notify.js';
import { Message } from './message.js';
import { Composer } from './composer.js';

const WINDOW = 200; // messages rendered at once; earlier ones on request

function Profile({ conv }) {
  const p = conv.customer || {};
  const s = conv.summary;
  const attrs = Object.entries(p.attributes || {});
  return html`<aside class="profile" aria-label="Customer">
    <h3>${s.customer_display_name || s.customer_handle}</h3>
    <dl>
      <dt>Channel</dt><dd>${channelName(s.channel)} · ${s.customer_handle}</dd>
      ${(p.handles || []).length > 0 && html`<dt>Handles</dt><dd>${p.handles.join(', ')}</dd>`}
      <dt>Language</dt><dd>${s.language || p.language || 'unknown'}</dd>
      <dt>Reference</dt><dd>${s.conversation_id}</dd>
      ${s.queue_id && html`<dt>Queue</dt><dd>${s.queue_id}</dd>`}
      ${attrs.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}
      ${(p.linked_customer_ids || []).length > 1 && html`<dt>Linked profiles</dt><dd>${p.linked_customer_ids.join(', ')}</dd>`}
    </dl>
    <${Link} conv=${conv} />
  </aside>`;
}

// Two customer records are one person (or not): the router links their histories.
function Link({ conv }) {
  const id = conv.summary.customer_id;
  const linked = ((conv.customer || {}).linked_customer_ids || []).length > 1;
  const submit = (e) => {
    e.preventDefault();
    const other = e.currentTarget.other.value.trim();
    if (other) send({ cmd: 'link', customer_id: id, other_customer_id: other, note: 'linked in the workspace' });
    e.currentTarget.reset();
  };
  return html`<form class="link-form" onSubmit=${submit}>
    <label for="link-other">Same person as customer</label>
    <input id="link-other" name="other" maxlength="256" placeholder="customer id, e.g. U7" />
    <button type="submit">Link</button>
    ${linked && html`<button type="button" id="unlink" onClick=${() => send({ cmd: 'unlink', customer_id: id })}>Unlink this profile</button>`}
  </form>`;
}

function Past({ conv }) {
  if (!conv.past.length) return null;
  return html`<details class="past">
    <summary>Earlier conversations (${conv.past.length})</summary>
    ${conv.past.map((p) => html`<section class="past-conv">
      <h4>${channelName(p.conversation.channel)} · ${p.conversation.subject || p.conversation.conversation_id} · ${p.state}</h4>
      <ol class="history">${(p.history || []).map((m) => html`<${Message} m=${m} />`)}</ol>
    </section>`)}
  </details>`;
}

function Actions({ conv }) {
  const [panel, setPanel] = useState('');
  const id = conv.id;
  const open = conv.state !== 'closed';
  const toggle = (p) => setPanel(panel === p ? '' : p);
  const transfer = (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    const to = f.to.value.trim();
    send({ cmd: 'transfer', conversation_id: id, [f.kind.value === 'queue' ? 'to_queue_id' : 'to_agent_id']: to, note: f.note.value });
    setPanel('');
  };
  const snooze = (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    const v = f.until.value;
    const cmd = { cmd: 'snooze', conversation_id: id };
    if (v === 'customer') cmd.until_customer = true;
    else if (v === 'at') cmd.until_ms = new Date(f.at.value).getTime();
    else cmd.until_ms = Date.now() + Number(v) * 60000;
    send(cmd);
    setPanel('');
  };
  const labels = (e) => {
    e.preventDefault();
    const list = e.currentTarget.labels.value.split(',').map((s) => s.trim()).filter(Boolean);
    send({ cmd: 'labels', conversation_id: id, labels: list });
    setPanel('');
  };
  if (!open) return html`<p class="closed-note">Closed: ${conv.closedWhy}</p>`;
  return html`<div class="actions-bar">
    <button id="resolve" onClick=${() => send({ cmd: 'resolve', conversation_id: id })} title="E">Resolve</button>
    <button id="transfer-button" aria-expanded=${panel === 'transfer'} onClick=${() => toggle('transfer')} title="T">Transfer…</button>
    ${conv.state === 'snoozed'
      ? html`<button id="wake" onClick=${() => send({ cmd: 'snooze', conversation_id: id, until_ms: 0 })}>Wake</button>`
      : html`<button id="snooze-button" aria-expanded=${panel === 'snooze'} onClick=${() => toggle('snooze')} title="S">Snooze…</button>`}
    <button id="labels-button" aria-expanded=${panel === 'labels'} onClick=${() => toggle('labels')} title="L">Labels…</button>
    ${panel === 'transfer' && html`<form id="transfer-form" class="panel" onSubmit=${transfer}>
      <label for="t-kind">To</label>
      <select id="t-kind" name="kind"><option value="agent">Agent</option><option value="queue">Queue</option></select>
      <label for="t-to">Id</label><input id="t-to" name="to" required maxlength="256" autofocus />
      <label for="t-note">Note for the next agent</label><input id="t-note" name="note" maxlength="4000" />
      <button type="submit">Transfer</button>
    </form>`}
    ${panel === 'snooze' && html`<form id="snooze-form" class="panel" onSubmit=${snooze}>
      <label for="s-until">Until</label>
      <select id="s-until" name="until" autofocus>
        <option value="60">1 hour</option><option value="240">4 hours</option>
        <option value="1440">Tomorrow, same time</option><option value="customer">The customer writes</option>
        <option value="at">A time…</option>
      </select>
      <label for="s-at">Time</label><input id="s-at" name="at" type="datetime-local" step="1" />
      <button type="submit">Snooze</button>
    </form>`}
    ${panel === 'labels' && html`<form id="labels-form" class="panel" onSubmit=${labels}>
      <label for="l-list">Labels (comma separated)</label>
      <input id="l-list" name="labels" maxlength="1000" value=${conv.labels.join(', ')} autofocus />
      <button type="submit">Save labels</button>
    </form>`}
  </div>`;
}

export function Conversation({ conv }) {
  const [shown, setShown] = useState(WINDOW);
  const list = useRef(null);
  const h = conv.history;
  useEffect(() => setShown(WINDOW), [conv.id]);
  useEffect(() => {
    const el = list.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 200) el.scrollTop = el.scrollHeight;
  }, [h.length, conv.id]);
  const from = Math.max(0, h.length - shown);
  const s = conv.summary;
  const snoozed = conv.state === 'snoozed'
    ? num(s.snoozed_until_ms) ? `Snoozed until ${new Date(num(s.snoozed_until_ms)).toLocaleString()}` : 'Snoozed until the customer writes'
    : '';
  return html`<section class="conversation" aria-labelledby="conv-title">
    <header class="conv-head">
      <h2 id="conv-title">${s.customer_display_name || s.customer_handle}</h2>
      <span class="chan">${channelName(s.channel)}</span>
      ${s.subject && html`<span class="subject">${s.subject}</span>`}
      ${conv.labels.map((l) => html`<span class="label">${l}</span>`)}
      ${snoozed && html`<span class="snoozed">${snoozed}</span>`}
      <${Actions} conv=${conv} />
    </header>
    <div class="conv-body">
      <div class="history-box" ref=${list} tabindex="0" aria-label="History">
        <${Past} conv=${conv} />
        ${from > 0 && html`<button class="earlier" onClick=${() => setShown(shown + WINDOW)}>Show earlier messages (${from})</button>`}
        <ol class="history" id="history">${h.slice(from).map((m) => html`<${Message} key=${m.seq || m.at_ms} m=${m} />`)}</ol>
        ${conv.typingUntil > clock.value && html`<p class="typing" role="status">The customer is typing…</p>`}
      </div>
      <${Profile} conv=${conv} />
    </div>
    ${conv.state !== 'closed' && html`<${Composer} conv=${conv} />`}
  </section>`;
}
