// A conversation's decision trail for a supervisor: every routing decision with its reason,
// who was looked at and why they could not take it; assign it to an agent or move it to
// another queue from here.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { send } from '../stream.js';

export function Drill({ id, onClose }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const [agent, setAgent] = useState('');
  const [note, setNote] = useState('');
  const [queue, setQueue] = useState('');
  const [done, setDone] = useState('');
  const load = () =>
    fetch('api/conversation?id=' + encodeURIComponent(id), { credentials: 'same-origin' })
      .then(async (r) => {
        const body = await r.json().catch(() => ({}));
        if (r.ok) { setData(body); setError(''); } else setError(body.error || `HTTP ${r.status}`);
      })
      .catch(() => setError('The server cannot be reached'));
  useEffect(() => { load(); }, [id]);
  const assign = (e) => {
    e.preventDefault();
    if (!agent.trim()) return;
    send({ cmd: 'force_assign', conversation_id: id, agent_id: agent.trim(), note });
    setDone(`Asked the router to assign ${id} to ${agent.trim()}`);
    setTimeout(load, 800);
  };
  const move = (e) => {
    e.preventDefault();
    if (!queue.trim()) return;
    send({ cmd: 'force_assign', conversation_id: id, to_queue_id: queue.trim(), note });
    setDone(`Asked the router to move ${id} to queue ${queue.trim()}`);
    setTimeout(load, 800);
  };
  return html`<section class="drill-view" id="drill" aria-label=${'Conversation ' + id}>
    <header><h2>Conversation ${id}</h2><button id="drill-refresh" onClick=${load}>Refresh</button>
      <button id="drill-close" onClick=${onClose}>Back to the board</button></header>
    ${error && html`<p class="notice error" role="alert">${error}</p>`}
    ${data && html`<dl class="facts">
      <dt>State</dt><dd id="drill-state">${data.state.replace('STATE_', '').toLowerCase()}</dd>
      <dt>Queue</dt><dd>${data.queue}</dd><dt>Channel</dt><dd>${data.channel.replace('CHANNEL_', '').toLowerCase()}</dd>
      <dt>Agent</dt><dd id="drill-agent">${data.agent || '(nobody)'}</dd>
      <dt>Offers</dt><dd>${data.offers} (${data.rejections} rejected, ${data.expiries} expired)</dd>
      <dt>Transfers</dt><dd>${data.transfers}</dd><dt>Reopened</dt><dd>${data.reopens}</dd>
    </dl>
    <form class="assign" onSubmit=${assign}>
      <label for="assign-agent">Assign to agent</label>
      <input id="assign-agent" value=${agent} onInput=${(e) => setAgent(e.target.value)} maxlength="128" />
      <label for="assign-note">Note</label>
      <input id="assign-note" value=${note} onInput=${(e) => setNote(e.target.value)} maxlength="2000" />
      <button type="submit" id="assign-go">Assign</button>
    </form>
    <form class="assign" onSubmit=${move}>
      <label for="move-queue">Move to queue</label>
      <input id="move-queue" value=${queue} onInput=${(e) => setQueue(e.target.value)} maxlength="128" />
      <button type="submit" id="move-go">Move</button>
    </form>
    ${done && html`<p role="status">${done}</p>`}
    <h3>Decision trail</h3>
    <ol class="trail" id="trail">${data.trail.map((t, i) => html`<li key=${i}>
      <time>${new Date(t.at_ms).toLocaleTimeString()}</time> <strong>${t.kind.toLowerCase().replace(/_/g, ' ')}</strong>
      ${t.agent && html` · ${t.agent}`} · <span class="reason">${t.reason}</span>
      ${t.considered.length > 0 && html`<ul class="considered">${t.considered.map((c) => html`<li key=${c.agent}
        class=${c.eligible ? 'eligible' : 'not-eligible'}>${c.agent}: ${c.eligible ? 'could take it' : 'could not'} — ${c.reason}</li>`)}</ul>`}
    </li>`)}</ol>`}
  </section>`;
}
