// What the tab shows, as signals, kept from the gateway's numbered events (the same
// events every tab of the agent gets, so two tabs stay identical).
import { signal, computed, batch } from '@preact/signals';

export const me = signal(null); // {login, workspace, agent, role, csrf}
export const link = signal('connecting'); // live | connecting | signed-out
export const presence = signal('away');
export const router = signal('connected'); // the gateway's session with the router
export const offers = signal([]); // Offer frames, oldest first
export const convs = signal(new Map()); // id -> conversation (see fromAssignment)
export const selectedId = signal(null);
export const filter = signal({ view: 'open', channel: '', text: '' });
export const notices = signal([]); // [{id, text, kind}] shown as toasts
export const canned = signal([]); // canned responses visible to this agent
export const lastSeq = signal(0);
export const clock = signal(Date.now()); // ticks every second for countdowns

const RECENT_CLOSED = 200; // resolved / gone conversations kept for the "Closed" view

export const num = (v) => (v === undefined || v === null || v === '' ? 0 : Number(v));

let noticeId = 0;
export function notify(text, kind = 'info') {
  const id = ++noticeId;
  notices.value = [...notices.value.slice(-4), { id, text, kind }];
  setTimeout(() => (notices.value = notices.value.filter((n) => n.id !== id)), 8000);
}

function lastAt(history) {
  return history.length ? num(history[history.length - 1].at_ms) : 0;
}

function derive(c) {
  const h = c.history;
  let lastCustomer = 0;
  for (let i = h.length - 1; i >= 0; i--)
    if (h[i].author === 'AUTHOR_CUSTOMER') {
      lastCustomer = num(h[i].at_ms);
      break;
    }
  // Waiting for my reply: the customer wrote last (notes and system lines do not count).
  const visible = h.filter((m) => !m.internal && m.author !== 'AUTHOR_SYSTEM');
  const last = visible[visible.length - 1];
  c.lastAt = Math.max(lastAt(h), num(c.summary.created_at_ms));
  c.lastCustomerAt = lastCustomer;
  c.waiting = !!last && last.author === 'AUTHOR_CUSTOMER' && !last.csat; // a rating asks nothing
  const rated = last && last.csat ? `Rated ${num(last.csat.rating)} of ${num(last.csat.scale)}` : '';
  c.preview = last ? [rated, last.text_body || last.subject || ''].filter(Boolean).join(': ') : '';
  return c;
}

function fromAssignment(a, old) {
  const s = a.conversation || {};
  return derive({
    id: s.conversation_id,
    summary: s,
    history: a.history || [],
    past: a.customer_history || [],
    unread: old ? old.unread : 0,
    state: s.snoozed_until_ms || s.snoozed_until_customer ? 'snoozed' : 'open',
    labels: s.labels || [],
    customer: a.customer || null,
    typingUntil: 0,
  });
}

function put(c) {
  const m = new Map(convs.value);
  m.set(c.id, c);
  convs.value = m;
}

function change(id, f) {
  const old = convs.value.get(id);
  if (!old) return;
  const c = { ...old, history: old.history };
  f(c);
  put(derive(c));
}

function close(id, why) {
  change(id, (c) => {
    c.state = 'closed';
    c.closedWhy = why;
    c.closedAt = Date.now();
  });
  const closed = [...convs.value.values()].filter((c) => c.state === 'closed');
  if (closed.length > RECENT_CLOSED) {
    closed.sort((a, b) => a.closedAt - b.closedAt);
    const m = new Map(convs.value);
    for (const c of closed.slice(0, closed.length - RECENT_CLOSED)) m.delete(c.id);
    convs.value = m;
  }
}

function reset(offerList, assignments, pres) {
  const m = new Map();
  for (const c of convs.value.values()) if (c.state === 'closed') m.set(c.id, c);
  for (const a of assignments) {
    const c = fromAssignment(a, convs.value.get(a.conversation.conversation_id));
    m.set(c.id, c);
  }
  convs.value = m;
  offers.value = offerList;
  if (pres) presence.value = pres;
}

// Applies one event; returns what the page should announce (a new offer).
export function apply(e) {
  let announce = null;
  batch(() => {
    switch (e.type) {
      case 'state':
        reset(e.offers || [], e.conversations || [], e.presence);
        if (e.router) router.value = e.router;
        canned.value = e.canned || canned.value;
        break;
      case 'welcome':
        reset(e.welcome.pending_offers || [], e.welcome.open_conversations || [], null);
        if (e.welcome.canned_responses) canned.value = e.welcome.canned_responses;
        break;
      case 'presence':
        presence.value = e.presence;
        break;
      case 'router':
        router.value = e.status;
        break;
      case 'offer':
        if (!offers.value.some((o) => o.offer_id === e.offer.offer_id)) {
          offers.value = [...offers.value, e.offer];
          announce = e.offer;
        }
        break;
      case 'offer_withdrawn':
        offers.value = offers.value.filter((o) => o.offer_id !== e.offer_withdrawn.offer_id);
        break;
      case 'assignment': {
        const a = e.assignment;
        offers.value = offers.value.filter((o) => o.offer_id !== a.offer_id);
        const c = fromAssignment(a, convs.value.get(a.conversation.conversation_id));
        put(c);
        if (a.offer_id && !selectedId.value) selectedId.value = c.id;
        break;
      }
      case 'customer_message': {
        const { conversation_id: id, message } = e.customer_message;
        const due = e.customer_message.sla_due_at_ms;
        change(id, (c) => {
          c.history = [...c.history, message];
          c.typingUntil = 0;
          if (due !== undefined) c.summary = { ...c.summary, sla_due_at_ms: due };
          if (selectedId.value !== id || document.hidden) c.unread += 1;
        });
        break;
      }
      case 'reply_ack':
        if (e.message)
          change(e.reply_ack.conversation_id, (c) => {
            if (!c.history.some((m) => m.seq && m.seq === e.message.seq))
              c.history = [...c.history, e.message];
          });
        break;
      case 'delivery_update': {
        const u = e.delivery_update;
        change(u.conversation_id, (c) => {
          c.history = c.history.map((m) =>
            m.outbound_id === u.outbound_id
              ? { ...m, delivery: u.state, delivery_detail: u.detail || '' }
              : m,
          );
        });
        break;
      }
      case 'typing':
        change(e.typing.conversation_id, (c) => {
          c.typingUntil = e.typing.on ? Date.now() + 6000 : 0;
        });
        break;
      case 'resolved':
        close(e.resolved.conversation_id, 'resolved');
        break;
      case 'conversation_gone':
        close(e.conversation_gone.conversation_id, e.conversation_gone.reason || 'gone');
        break;
      case 'conversation_updated': {
        const s = e.conversation_updated.conversation;
        change(s.conversation_id, (c) => {
          c.summary = s;
          c.labels = s.labels || [];
          if (c.state !== 'closed')
            c.state = s.snoozed_until_ms || s.snoozed_until_customer ? 'snoozed' : 'open';
        });
        break;
      }
      case 'note_added': {
        const { conversation_id: id, message } = e.note_added;
        change(id, (c) => (c.history = [...c.history, message]));
        break;
      }
      case 'canned_responses':
        canned.value = e.canned_responses.responses || [];
        break;
      case 'customer_linked':
        notify('Customer profiles linked: ' + (e.customer_linked.linked_customer_ids || []).join(', '));
        break;
      case 'error': {
        const err = e.error;
        notify(`Refused (${(err.code || '').replace('CODE_', '').toLowerCase()}): ${err.message}`, 'error');
        break;
      }
    }
  });
  return announce;
}

export function markRead(id) {
  const c = convs.value.get(id);
  if (c && c.unread) change(id, (x) => (x.unread = 0));
}

const order = { open: 0, snoozed: 1, closed: 2 };

// The conversation list as the filter asks: waiting-for-my-reply first, then the longest
// waiting, then the most recent.
export const visible = computed(() => {
  const f = filter.value;
  const text = f.text.trim().toLowerCase();
  const out = [];
  for (const c of convs.value.values()) {
    if (f.view === 'open' && c.state !== 'open') continue;
    if (f.view === 'waiting' && !(c.state === 'open' && c.waiting)) continue;
    if (f.view === 'snoozed' && c.state !== 'snoozed') continue;
    if (f.view === 'closed' && c.state !== 'closed') continue;
    if (f.channel && c.summary.channel !== f.channel) continue;
    if (text) {
      const hay = `${c.summary.customer_display_name || ''} ${c.summary.customer_handle || ''} ${
        c.summary.subject || ''
      } ${c.preview} ${c.labels.join(' ')}`.toLowerCase();
      if (!hay.includes(text)) continue;
    }
    out.push(c);
  }
  out.sort(
    (a, b) =>
      order[a.state] - order[b.state] ||
      (b.waiting ? 1 : 0) - (a.waiting ? 1 : 0) ||
      (a.waiting ? a.lastCustomerAt - b.lastCustomerAt : b.lastAt - a.lastAt),
  );
  return out;
});

export const counts = computed(() => {
  const n = { open: 0, waiting: 0, snoozed: 0, closed: 0 };
  for (const c of convs.value.values()) {
    n[c.state] += 1;
    if (c.state === 'open' && c.waiting) n.waiting += 1;
  }
  return n;
});

export const selected = computed(() => convs.value.get(selectedId.value) || null);
