// The live event stream: one WebSocket to the gateway. Every event carries the agent's
// sequence number; the tab applies each number once, in order, and a tab that reconnects
// (network drop, laptop asleep, server restart) asks for what came after the last number it
// applied. A gap means something was missed: reconnect and catch up. No polling.
import { apply, lastSeq, link, me, notify } from './store.js';
import { whoAmI } from './api.js';
import { announceOffer } from './notify.js';

let ws = null;
let asleepUntil = 0; // tests: a suspended laptop neither reads nor reconnects
let epoch = '';
let retries = 0;
let timer = null;
let tick = Date.now();
const pendingReplies = new Map(); // reply_id -> command, re-sent until the router acks it

// firstStateMs: ms from navigation start until the first whole state was on screen.
// welcomed: the page holds the router's picture (its Welcome), not only the gateway's.
export const stats = { events: 0, duplicates: 0, gaps: 0, connects: 0, firstStateMs: 0, welcomed: false };

function wsUrl() {
  const u = new URL('ws', location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (epoch) {
    u.searchParams.set('since', String(lastSeq.value));
    u.searchParams.set('epoch', epoch);
  }
  return u.toString();
}

function onEvent(e) {
  if (e.seq === undefined) {
    if (e.error) notify(e.error, 'error');
    return;
  }
  if (e.type === 'state') {
    epoch = e.epoch || '';
    lastSeq.value = e.seq;
    apply(e);
    stats.welcomed = !!e.welcomed;
    if (!stats.firstStateMs)
      requestAnimationFrame(() => setTimeout(() => (stats.firstStateMs = performance.now())));
    for (const cmd of pendingReplies.values()) send(cmd);
    return;
  }
  if (e.seq <= lastSeq.value) {
    stats.duplicates += 1; // already applied (never shown twice)
    return;
  }
  if (e.seq !== lastSeq.value + 1) {
    stats.gaps += 1;
    ws.close(); // reconnect with since=<last applied>
    return;
  }
  lastSeq.value = e.seq;
  stats.events += 1;
  if (e.type === 'reply_ack') pendingReplies.delete(e.reply_ack.reply_id);
  const offer = apply(e);
  if (e.type === 'welcome') stats.welcomed = true;
  else if (e.type === 'router' && e.status !== 'connected') stats.welcomed = false;
  if (offer) announceOffer(offer);
}

export function connect() {
  if (ws) return;
  if (Date.now() < asleepUntil) {
    timer = setTimeout(connect, asleepUntil - Date.now());
    return;
  }
  clearTimeout(timer);
  link.value = 'connecting';
  const sock = new WebSocket(wsUrl());
  ws = sock;
  stats.connects += 1;
  sock.onopen = () => {
    retries = 0;
    link.value = 'live';
    // Replies typed while offline or not yet acknowledged: the same reply_id is harmless.
    for (const cmd of pendingReplies.values()) send(cmd);
  };
  sock.onmessage = (m) => {
    let e;
    try {
      e = JSON.parse(m.data);
    } catch (err) {
      return;
    }
    if (ws === sock) onEvent(e);
  };
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    link.value = 'connecting';
    reconnectSoon();
  };
}

async function reconnectSoon() {
  // Still signed in? (An expired session or a restart shows the sign-in page.)
  const r = await whoAmI().catch(() => ({ status: 0 }));
  if (r.status === 401) {
    link.value = 'signed-out';
    me.value = null;
    return;
  }
  const delay = Math.min(10000, 250 * 2 ** retries) * (0.5 + Math.random() / 2);
  retries = Math.min(retries + 1, 6);
  timer = setTimeout(connect, delay);
}

export function disconnect() {
  const s = ws;
  ws = null;
  epoch = '';
  lastSeq.value = 0;
  clearTimeout(timer);
  if (s) s.close();
}

// Forces a reconnect now (tests drop the socket this way; sleep and network changes too).
export function reconnectNow() {
  if (ws) ws.close();
  else if (me.value) connect();
}

export function send(cmd) {
  if (cmd.cmd === 'reply' && cmd.reply_id) pendingReplies.set(cmd.reply_id, cmd);
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    if (cmd.cmd !== 'reply') notify('Not connected: try again in a moment', 'error');
    return false;
  }
  ws.send(JSON.stringify(cmd));
  return true;
}

export const pendingCount = () => pendingReplies.size;

// Tests: behave like a laptop whose lid is closed for `ms` (the socket dies, nothing runs).
export function sleepFor(ms) {
  asleepUntil = Date.now() + ms;
  if (ws) ws.close();
}

// Back from sleep or offline: a socket that slept may be dead without knowing it.
function wake() {
  if (!me.value) return;
  if (!ws) {
    clearTimeout(timer);
    connect();
  } else if (ws.readyState !== WebSocket.OPEN) {
    ws.close();
  }
}
window.addEventListener('online', wake);
document.addEventListener('visibilitychange', () => !document.hidden && wake());
setInterval(() => {
  const now = Date.now();
  if (now - tick > 15000 && ws) ws.close(); // the clock jumped: we were asleep
  tick = now;
}, 2000);
