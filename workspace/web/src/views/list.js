// The conversation list: filters, and a virtualized list (only the rows in view are in the
// page, so 10,000 rows scroll like 10). Arrow keys / j / k move, Enter opens.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { clock, counts, filter, selectedId, visible, num } from '../store.js';
import { channelName } from '../notify.js';

const ROW = 64;
const views = [
  ['open', 'Open'],
  ['waiting', 'Waiting for me'],
  ['snoozed', 'Snoozed'],
  ['closed', 'Closed'],
];
const channels = ['', 'CHANNEL_EMAIL', 'CHANNEL_CHAT', 'CHANNEL_SMS', 'CHANNEL_WHATSAPP',
  'CHANNEL_MESSENGER', 'CHANNEL_INSTAGRAM', 'CHANNEL_TELEGRAM', 'CHANNEL_WEBHOOK'];

function ago(ms) {
  if (!ms) return '';
  const s = Math.max(0, Math.round((clock.value - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function due(c) {
  const at = num(c.summary.sla_due_at_ms);
  if (!at || !c.waiting) return null;
  const s = Math.round((at - clock.value) / 1000);
  const t = Math.abs(s) < 60 ? `${Math.abs(s)}s` : `${Math.floor(Math.abs(s) / 60)}m`;
  return html`<span class=${'due' + (s < 0 ? ' late' : s < 120 ? ' soon' : '')}>${s < 0 ? 'late ' + t : 'due ' + t}</span>`;
}

export function moveSelection(step) {
  const list = visible.value;
  if (!list.length) return;
  let i = list.findIndex((c) => c.id === selectedId.value);
  i = i < 0 ? 0 : Math.min(list.length - 1, Math.max(0, i + step));
  selectedId.value = list[i].id;
  const row = document.getElementById('row-' + list[i].id);
  if (row) row.scrollIntoView({ block: 'nearest' });
  else {
    const box = document.getElementById('conv-list');
    if (box) box.scrollTop = Math.max(0, i * ROW - box.clientHeight / 2);
  }
}

function Filters() {
  const f = filter.value;
  const n = counts.value;
  return html`<div class="filters">
    <div role="tablist" aria-label="Conversations">
      ${views.map(([v, label]) => html`<button role="tab" id=${'view-' + v} aria-selected=${f.view === v}
          onClick=${() => (filter.value = { ...f, view: v })}>${label} <span class="n">${n[v]}</span></button>`)}
    </div>
    <label class="sr" for="channel-filter">Channel</label>
    <select id="channel-filter" value=${f.channel} onChange=${(e) => (filter.value = { ...f, channel: e.currentTarget.value })}>
      ${channels.map((c) => html`<option value=${c}>${c ? channelName(c) : 'All channels'}</option>`)}
    </select>
    <label class="sr" for="search">Search</label>
    <input id="search" type="search" placeholder="Search (/)" value=${f.text}
      onInput=${(e) => (filter.value = { ...f, text: e.currentTarget.value })} />
  </div>`;
}

function Row({ c, top }) {
  const s = c.summary;
  const active = c.id === selectedId.value;
  return html`<li id=${'row-' + c.id} role="option" aria-selected=${active} class=${'row' + (active ? ' active' : '')}
      style=${{ top: top + 'px', height: ROW + 'px' }} data-conversation=${c.id}
      onClick=${() => (selectedId.value = c.id)}>
    <div class="row-top">
      <span class="chan">${channelName(s.channel)}</span>
      <strong class="name">${s.customer_display_name || s.customer_handle}</strong>
      ${c.unread > 0 && html`<span class="unread" aria-label="unread">${c.unread}</span>`}
      ${due(c)}
      <span class="age">${ago(c.lastAt)}</span>
    </div>
    <div class="row-bottom">
      ${c.waiting && c.state === 'open' && html`<span class="waiting">waiting</span>`}
      ${c.labels.map((l) => html`<span class="label">${l}</span>`)}
      <span class="last">${c.preview}</span>
    </div>
  </li>`;
}

export function ConversationList() {
  const box = useRef(null);
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = box.current;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const list = visible.value;
  const first = Math.max(0, Math.floor(scroll / ROW) - 5);
  const last = Math.min(list.length, Math.ceil((scroll + height) / ROW) + 5);
  const rows = [];
  for (let i = first; i < last; i++) rows.push(html`<${Row} key=${list[i].id} c=${list[i]} top=${i * ROW} />`);
  return html`<nav class="sidebar" aria-label="Conversation list">
    <${Filters} />
    <ul id="conv-list" class="list" role="listbox" tabindex="0" ref=${box}
        aria-label="Conversations" aria-activedescendant=${selectedId.value ? 'row-' + selectedId.value : undefined}
        onScroll=${(e) => setScroll(e.currentTarget.scrollTop)}
        onKeyDown=${(e) => {
          if (e.key === 'ArrowDown') { moveSelection(1); e.preventDefault(); }
          if (e.key === 'ArrowUp') { moveSelection(-1); e.preventDefault(); }
          if (e.key === 'Enter') { document.getElementById('composer-text')?.focus(); e.preventDefault(); }
        }}>
      <div class="spacer" style=${{ height: list.length * ROW + 'px' }}></div>
      ${rows}
    </ul>
    ${!list.length && html`<p class="empty">No conversations here.</p>`}
  </nav>`;
}
