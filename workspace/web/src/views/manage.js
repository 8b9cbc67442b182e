// Canned responses: the agent's personal ones, and for supervisors the workspace's and the
// queues'. Stored by the router; every desk of the workspace gets the change live.
// Supervisors also force-assign a conversation to an agent here.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { canned, me } from '../store.js';
import { send } from '../stream.js';

const scopes = { SCOPE_PERSONAL: 'Personal', SCOPE_WORKSPACE: 'Workspace', SCOPE_QUEUE: 'Queue' };

function mayEdit(r) {
  if (r.scope === 'SCOPE_PERSONAL') return r.owner_agent_id === me.value.agent;
  return me.value.role === 'supervisor';
}

function Editor({ item, onDone }) {
  const [texts, setTexts] = useState(item ? item.texts.map((t) => ({ ...t })) : [{ language: '', text: '' }]);
  const [scope, setScope] = useState(item ? item.scope : 'SCOPE_PERSONAL');
  const [code, setCode] = useState(item ? item.shortcode : '');
  const [queue, setQueue] = useState(item ? item.queue_id || '' : '');
  const submit = (e) => {
    e.preventDefault();
    const response = {
      canned_id: item ? item.canned_id : '',
      shortcode: code.trim(),
      scope,
      queue_id: scope === 'SCOPE_QUEUE' ? queue.trim() : '',
      texts: texts.filter((t) => t.text.trim()).map((t) => ({ language: t.language.trim(), text: t.text })),
    };
    send({ cmd: 'canned_save', response });
    onDone();
  };
  const set = (i, k, v) => setTexts(texts.map((t, j) => (j === i ? { ...t, [k]: v } : t)));
  const supervisor = me.value.role === 'supervisor';
  return html`<form id="canned-form" class="canned-form" onSubmit=${submit}>
    <label for="c-code">Shortcode</label>
    <input id="c-code" name="shortcode" required pattern="[A-Za-z0-9_\\-]{1,64}" value=${code} onInput=${(e) => setCode(e.currentTarget.value)} autofocus />
    <label for="c-scope">Scope</label>
    <select id="c-scope" name="scope" value=${scope} onChange=${(e) => setScope(e.currentTarget.value)}>
      <option value="SCOPE_PERSONAL">Personal</option>
      ${supervisor && html`<option value="SCOPE_WORKSPACE">Workspace</option><option value="SCOPE_QUEUE">Queue</option>`}
    </select>
    <label for="c-queue">Queue (queue scope)</label>
    <input id="c-queue" name="queue" maxlength="128" value=${queue} onInput=${(e) => setQueue(e.currentTarget.value)} />
    ${texts.map((t, i) => html`<fieldset class="canned-text">
      <legend>Text ${i + 1}</legend>
      <label for=${'c-lang-' + i}>Language (empty = any)</label>
      <input id=${'c-lang-' + i} maxlength="16" value=${t.language} onInput=${(e) => set(i, 'language', e.currentTarget.value)} />
      <label for=${'c-text-' + i}>Text ({customer.name}, {agent.name}, {reference}…)</label>
      <textarea id=${'c-text-' + i} rows="3" maxlength="16384" value=${t.text} onInput=${(e) => set(i, 'text', e.currentTarget.value)}></textarea>
    </fieldset>`)}
    <button type="button" id="c-add-language" onClick=${() => setTexts([...texts, { language: '', text: '' }])}>Add a language</button>
    <button type="submit" class="primary" id="c-save">Save</button>
    <button type="button" onClick=${onDone}>Cancel</button>
  </form>`;
}

function ForceAssign() {
  const submit = (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    send({ cmd: 'force_assign', conversation_id: f.conv.value.trim(), agent_id: f.agent.value.trim(), note: f.note.value });
    f.reset();
  };
  return html`<form id="force-form" class="panel" onSubmit=${submit}>
    <h3>Force-assign</h3>
    <label for="f-conv">Conversation</label><input id="f-conv" name="conv" required maxlength="256" />
    <label for="f-agent">Agent</label><input id="f-agent" name="agent" required maxlength="256" />
    <label for="f-note">Note</label><input id="f-note" name="note" maxlength="4000" />
    <button type="submit">Assign</button>
  </form>`;
}

export function Manage({ onClose }) {
  const ref = useRef(null);
  const [editing, setEditing] = useState(null); // null | 'new' | item
  useEffect(() => {
    if (ref.current && !ref.current.open) ref.current.showModal();
  }, []);
  return html`<dialog id="manage" ref=${ref} class="manage" aria-labelledby="manage-title" onClose=${onClose}>
    <h2 id="manage-title">Canned responses</h2>
    ${editing
      ? html`<${Editor} item=${editing === 'new' ? null : editing} onDone=${() => setEditing(null)} />`
      : html`<div>
          <button id="canned-new" onClick=${() => setEditing('new')}>New canned response</button>
          <table class="canned-table">
            <thead><tr><th>Shortcode</th><th>Scope</th><th>Languages</th><th></th></tr></thead>
            <tbody>${canned.value.map((r) => html`<tr data-canned=${r.shortcode}>
              <td>/${r.shortcode}</td>
              <td>${scopes[r.scope] || r.scope}${r.queue_id ? ' · ' + r.queue_id : ''}</td>
              <td>${(r.texts || []).map((t) => t.language || 'any').join(', ')}</td>
              <td>${mayEdit(r) && html`<button onClick=${() => setEditing(r)}>Edit</button>
                <button onClick=${() => send({ cmd: 'canned_delete', canned_id: r.canned_id })}>Delete</button>`}</td>
            </tr>`)}</tbody>
          </table>
        </div>`}
    ${me.value.role === 'supervisor' && !editing && html`<${ForceAssign} />`}
    <form method="dialog"><button>Close</button></form>
  </dialog>`;
}
