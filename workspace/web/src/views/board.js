// The supervisor's wallboard: the live picture of the workspace, pushed over its own
// WebSocket (/agent/board) within moments of every routing decision. No polling: the
// server sends a new picture when something changed and once a second while work waits.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';

export const boardStats = { pictures: 0, connects: 0, last: null };

function boardUrl() {
  const u = new URL('board', location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

function duration(s) {
  if (!s) return '0s';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
}

// The board's socket; `find` (what the supervisor typed) goes to the server, which lists
// the agents matching it (a board of 10,000 agents sends 300 at a time, not all).
function useBoard(find) {
  const [picture, setPicture] = useState(null);
  const [state, setState] = useState('connecting');
  const socket = useRef(null);
  const findRef = useRef(find);
  findRef.current = find;
  useEffect(() => {
    const t = setTimeout(() => {
      const ws = socket.current;
      if (ws && ws.readyState === 1) ws.send(JSON.stringify({ find }));
    }, 200);
    return () => clearTimeout(t);
  }, [find]);
  useEffect(() => {
    let ws = null, stopped = false, retry = 0, timer = null;
    const open = () => {
      ws = new WebSocket(boardUrl());
      socket.current = ws;
      boardStats.connects++;
      ws.onopen = () => {
        retry = 0;
        setState('live');
        if (findRef.current) ws.send(JSON.stringify({ find: findRef.current }));
      };
      ws.onmessage = (m) => {
        try {
          const p = JSON.parse(m.data);
          boardStats.pictures++;
          boardStats.last = p;
          setPicture(p);
        } catch (e) { /* a picture we cannot read: the next one replaces it */ }
      };
      ws.onclose = () => {
        if (stopped) return;
        setState('connecting');
        timer = setTimeout(open, Math.min(10000, 250 * 2 ** retry++));
      };
    };
    open();
    return () => { stopped = true; clearTimeout(timer); if (ws) ws.close(); };
  }, []);
  return [picture, state];
}

function Rows({ rows, label }) {
  return html`<table class="board-table" aria-label=${label}>
    <thead><tr><th scope="col">${label}</th><th scope="col">Waiting</th><th scope="col">Longest wait</th>
      <th scope="col">Offered</th><th scope="col">Assigned</th><th scope="col">SLA risk</th><th scope="col">SLA breached</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr key=${r.id} class=${r.sla_breached ? 'breached' : r.sla_risk ? 'risk' : ''}>
      <th scope="row">${r.id || '(none)'}</th><td>${r.waiting}</td><td>${duration(r.longest_wait_s)}</td>
      <td>${r.offered}</td><td>${r.assigned}</td><td>${r.sla_risk}</td><td>${r.sla_breached}</td></tr>`)}</tbody>
  </table>`;
}

export function Board({ onDrill }) {
  const [find, setFind] = useState('');
  const [p, state] = useBoard(find);
  const [conv, setConv] = useState('');
  if (!p) return html`<section class="board" id="board"><p>${state === 'live' ? 'Loading…' : 'Connecting to the live board…'}</p></section>`;
  const t = p.total;
  const queues = [...p.queues].sort((a, b) => b.waiting - a.waiting || b.longest_wait_s - a.longest_wait_s);
  const agents = p.agents; // holding most first, as many as the server lists
  const more = (p.agents_matching || 0) - agents.length;
  const by = p.agents_by_presence;
  return html`<section class="board" id="board" aria-label="Live board">
    <p class="board-status" role="status">${state === 'live' ? 'Live' : 'Reconnecting…'} · updated${' '}
      <time id="board-at">${new Date(p.at_ms).toLocaleTimeString()}</time></p>
    <div class="tiles">
      <div class="tile"><span>Waiting</span><strong id="tile-waiting">${t.waiting}</strong></div>
      <div class="tile"><span>Longest wait</span><strong id="tile-longest">${duration(t.longest_wait_s)}</strong></div>
      <div class="tile"><span>Offers out</span><strong id="tile-offered">${t.offered}</strong></div>
      <div class="tile"><span>Assigned</span><strong id="tile-assigned">${t.assigned}</strong></div>
      <div class="tile risk"><span>SLA at risk</span><strong>${t.sla_risk}</strong></div>
      <div class="tile breached"><span>SLA breached</span><strong>${t.sla_breached}</strong></div>
      <div class="tile"><span>Agents</span><strong id="tile-agents">${by.available} available · ${by.busy} busy · ${by.away} away · ${by.offline} offline</strong></div>
    </div>
    <form class="drill" onSubmit=${(e) => { e.preventDefault(); if (conv) onDrill(conv.trim()); }}>
      <label for="drill-id">Conversation</label>
      <input id="drill-id" value=${conv} onInput=${(e) => setConv(e.target.value)} placeholder="C42" maxlength="64" />
      <button type="submit" id="drill-go">Open its trail</button>
    </form>
    <h2>Queues</h2>
    <${Rows} rows=${queues} label="Queue" />
    <h2>Channels</h2>
    <${Rows} rows=${p.channels} label="Channel" />
    <h2>Agents</h2>
    <label for="agent-find">Find an agent</label>
    <input id="agent-find" value=${find} onInput=${(e) => setFind(e.target.value)} maxlength="64" />
    <table class="board-table" aria-label="Agents">
      <thead><tr><th scope="col">Agent</th><th scope="col">Presence</th><th scope="col">Since</th><th scope="col">Holding</th></tr></thead>
      <tbody id="agent-rows">${agents.map((a) => html`<tr key=${a.agent}>
        <th scope="row">${a.agent}${a.bot ? ' (bot)' : ''}</th><td>${a.presence}</td>
        <td>${a.since_ms ? new Date(a.since_ms).toLocaleTimeString() : ''}</td><td>${a.holding}</td></tr>`)}</tbody>
    </table>
    ${more > 0 && html`<p id="agents-more">${more} more match: type part of a name to find them.</p>`}
  </section>`;
}
