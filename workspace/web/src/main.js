// The agent workspace: sign in, then one live stream of the agent's events (stream.js)
// drives every screen. Whole flow by keyboard (views/help.js lists the keys).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { apply, clock, filter, link, markRead, me, notices, selected, selectedId, presence } from './store.js';
import { connect, disconnect, reconnectNow, send, sleepFor, stats } from './stream.js';
import { signOut, whoAmI } from './api.js';
import { Login } from './views/login.js';
import { TopBar, setPresence } from './views/topbar.js';
import { Offers, acceptFirst, rejectFirst } from './views/offers.js';
import { ConversationList, moveSelection } from './views/list.js';
import { Conversation } from './views/conversation.js';
import { Help } from './views/help.js';
import { Manage } from './views/manage.js';
import { Board, boardStats } from './views/board.js';
import { Drill } from './views/drill.js';
import { Reports } from './views/reports.js';

setInterval(() => (clock.value = Date.now()), 1000);

function typingInField(e) {
  const t = e.target;
  return t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
}

function click(id) {
  const el = document.getElementById(id);
  if (el) el.click();
}

function Notices() {
  return html`<div class="notices" role="status" aria-live="polite">
    ${notices.value.map((n) => html`<p key=${n.id} class=${'notice ' + n.kind}>${n.text}</p>`)}
  </div>`;
}

function Workspace() {
  const [help, setHelp] = useState(false);
  const [manage, setManage] = useState(false);
  const [mode, setMode] = useState('desk'); // supervisors: 'board', 'reports'
  const [drill, setDrill] = useState('');
  const supervisor = me.value.role === 'supervisor';
  useEffect(() => {
    connect();
    const onKey = (e) => {
      if (e.altKey && (e.key === 'p' || e.key === 'P')) {
        setPresence(presence.value === 'available' ? 'away' : 'available');
        return e.preventDefault();
      }
      if (e.key === 'Escape' && typingInField(e)) return e.target.blur();
      if (typingInField(e) || e.ctrlKey || e.metaKey || e.altKey || document.querySelector('dialog[open]')) return;
      const keys = {
        j: () => moveSelection(1),
        k: () => moveSelection(-1),
        r: () => document.getElementById('composer-text')?.focus(),
        n: () => { click('note-toggle'); document.getElementById('composer-text')?.focus(); },
        a: acceptFirst,
        d: rejectFirst,
        e: () => click('resolve'),
        t: () => click('transfer-button'),
        s: () => click('snooze-button'),
        l: () => click('labels-button'),
        '/': () => document.getElementById('search')?.focus(),
        '?': () => setHelp(true),
        c: () => setManage(true),
        b: () => supervisor && (setDrill(''), setMode((m) => (m === 'board' ? 'desk' : 'board'))),
        g: () => supervisor && setMode((m) => (m === 'reports' ? 'desk' : 'reports')),
        1: () => (filter.value = { ...filter.value, view: 'open' }),
        2: () => (filter.value = { ...filter.value, view: 'waiting' }),
        3: () => (filter.value = { ...filter.value, view: 'snoozed' }),
        4: () => (filter.value = { ...filter.value, view: 'closed' }),
      };
      const f = keys[e.key];
      if (f) {
        e.preventDefault();
        f();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  useEffect(() => markRead(selectedId.value), [selectedId.value, selected.value?.unread]);
  const out = async () => {
    await signOut().catch(() => {});
    disconnect();
    me.value = null;
  };
  const conv = selected.value;
  return html`<div class="app">
    <a class="skip" href="#composer-text">Skip to the reply box</a>
    <${TopBar} onSignOut=${out} onHelp=${() => setHelp(true)} onManage=${() => setManage(true)}
      mode=${mode} onMode=${supervisor ? (m) => { setDrill(''); setMode(m); } : null} />
    <${Offers} />
    ${mode === 'board' && !drill && html`<main class="console"><${Board} onDrill=${setDrill} /></main>`}
    ${mode === 'board' && drill && html`<main class="console"><${Drill} id=${drill} onClose=${() => setDrill('')} /></main>`}
    ${mode === 'reports' && html`<main class="console"><${Reports} /></main>`}
    ${mode === 'desk' && html`<main class="main">
      <${ConversationList} />
      ${conv ? html`<${Conversation} key=${conv.id} conv=${conv} />`
        : html`<section class="conversation empty"><p>Pick a conversation (j / k), or wait for an offer.</p>
          <p>Press <kbd>?</kbd> for the keyboard shortcuts.</p></section>`}
    </main>`}
    <${Notices} />
    ${help && html`<${Help} onClose=${() => setHelp(false)} />`}
    ${manage && html`<${Manage} onClose=${() => setManage(false)} />`}
  </div>`;
}

function App() {
  if (me.value === undefined) return html`<p class="loading">Loading…</p>`;
  if (!me.value) return html`<${Login} />`;
  return html`<${Workspace} />`;
}

me.value = undefined;
whoAmI()
  .then((r) => (me.value = r.status === 200 ? r.data : null))
  .catch(() => (me.value = null));
link.subscribe((l) => {
  if (l === 'signed-out') disconnect();
});
// For tests and the curious: the stream's counters and a forced reconnect.
window.omniroute = { stats, reconnectNow, send, apply, sleepFor, boardStats };
render(html`<${App} />`, document.getElementById('app'));
