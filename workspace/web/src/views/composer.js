// The reply box. Enter sends, Shift+Enter is a new line; "/" or "::" opens the canned
// responses; the Note switch makes it an internal note (never sent to the customer); a
// WhatsApp conversation outside the 24-hour window offers an approved template instead.
import { useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { canned, clock, me } from '../store.js';
import { send } from '../stream.js';
import { fill, pickText, shortcodeAt, variables } from '../canned.js';

const DAY = 24 * 3600 * 1000;
let typingTimer = null;
let typingOn = false;

function typing(conv, on) {
  if (on === typingOn) return;
  typingOn = on;
  send({ cmd: 'typing', conversation_id: conv.id, on });
}

function uid() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
}

function Template({ conv }) {
  const submit = (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    send({
      cmd: 'reply',
      conversation_id: conv.id,
      reply_id: uid(),
      template: {
        name: f.tname.value.trim(),
        language: f.tlang.value.trim(),
        parameters: f.tparams.value ? f.tparams.value.split('|').map((s) => s.trim()) : [],
      },
    });
    f.reset();
  };
  return html`<form class="template" onSubmit=${submit} aria-label="WhatsApp template">
    <p>The customer last wrote more than 24 hours ago: WhatsApp allows only an approved template.</p>
    <label for="tname">Template</label><input id="tname" name="tname" required maxlength="512" />
    <label for="tlang">Language</label><input id="tlang" name="tlang" required maxlength="16" value="en" />
    <label for="tparams">Parameters (separated by |)</label><input id="tparams" name="tparams" maxlength="4000" />
    <button type="submit">Send template</button>
  </form>`;
}

export function Composer({ conv }) {
  const box = useRef(null);
  const [note, setNote] = useState(false);
  const [pick, setPick] = useState(null); // {query, start, items, index}
  const closedWindow =
    conv.summary.channel === 'CHANNEL_WHATSAPP' && conv.lastCustomerAt && clock.value - conv.lastCustomerAt > DAY;

  const insert = (resp) => {
    const el = box.current;
    const text = fill(pickText(resp, conv.summary.language), variables(conv, me.value));
    el.value = el.value.slice(0, pick.start) + text + el.value.slice(el.selectionStart);
    setPick(null);
    el.focus();
  };
  const lookup = () => {
    const el = box.current;
    const at = shortcodeAt(el.value, el.selectionStart);
    if (!at) return setPick(null);
    const items = canned.value
      .filter((r) => (r.shortcode || '').toLowerCase().startsWith(at.query))
      .slice(0, 8);
    setPick(items.length ? { ...at, items, index: 0 } : null);
  };
  const submit = () => {
    const el = box.current;
    const text = el.value.trim();
    if (!text) return;
    if (note) send({ cmd: 'note', conversation_id: conv.id, note_id: uid(), text });
    else send({ cmd: 'reply', conversation_id: conv.id, reply_id: uid(), text });
    el.value = '';
    clearTimeout(typingTimer);
    typing(conv, false);
  };
  const onKeyDown = (e) => {
    if (pick) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        const n = pick.items.length;
        setPick({ ...pick, index: (pick.index + (e.key === 'ArrowDown' ? 1 : n - 1)) % n });
        return e.preventDefault();
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        insert(pick.items[pick.index]);
        return e.preventDefault();
      }
      if (e.key === 'Escape') {
        setPick(null);
        return e.preventDefault();
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  };
  const onInput = () => {
    lookup();
    if (note || conv.summary.channel !== 'CHANNEL_CHAT') return;
    typing(conv, true);
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => typing(conv, false), 3000);
  };
  return html`<div class=${'composer' + (note ? ' noting' : '')}>
    ${closedWindow && !note && html`<${Template} conv=${conv} />`}
    ${pick && html`<ul id="canned-pick" class="canned" role="listbox" aria-label="Canned responses">
      ${pick.items.map((r, i) => html`<li role="option" aria-selected=${i === pick.index} class=${i === pick.index ? 'active' : ''}
          onMouseDown=${(e) => { e.preventDefault(); insert(r); }}>
        <strong>/${r.shortcode}</strong> <span>${pickText(r, conv.summary.language).slice(0, 80)}</span></li>`)}
    </ul>`}
    <label class="sr" for="composer-text">${note ? 'Internal note' : 'Reply'}</label>
    <textarea id="composer-text" ref=${box} rows="3" maxlength="200000"
      placeholder=${note ? 'Internal note: only agents see it' : 'Reply… Enter sends, Shift+Enter new line, / for canned responses'}
      disabled=${closedWindow && !note} onKeyDown=${onKeyDown} onInput=${onInput}></textarea>
    <div class="composer-bar">
      <label><input type="checkbox" id="note-toggle" checked=${note} onChange=${(e) => setNote(e.currentTarget.checked)} /> Internal note</label>
      <button id="send" class="primary" onClick=${submit} disabled=${closedWindow && !note}>${note ? 'Add note' : 'Send'}</button>
    </div>
  </div>`;
}
