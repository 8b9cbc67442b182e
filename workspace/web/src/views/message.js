// One message of a history. Text is always a text node; an HTML email body is sanitized
// (DOMPurify) and shown in a sandboxed frame with no scripts and no same-origin access.
import DOMPurify from 'dompurify';
import { html } from '../html.js';
import { num } from '../store.js';

const authors = { AUTHOR_CUSTOMER: 'customer', AUTHOR_AGENT: 'agent', AUTHOR_SYSTEM: 'system' };
const delivery = {
  STATE_SENT: 'sent',
  STATE_DELIVERED: 'delivered',
  STATE_READ: 'read',
  STATE_DEFERRED: 'retrying',
  STATE_FAILED: 'failed',
};

function time(ms) {
  const t = num(ms);
  return t ? new Date(t).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' }) : '';
}

function HtmlBody({ body }) {
  const clean = DOMPurify.sanitize(body, { FORBID_TAGS: ['style', 'form', 'input'], FORBID_ATTR: ['style'] });
  const doc = `<!doctype html><meta charset="utf-8"><base target="_blank"><body>${clean}</body>`;
  return html`<details class="html-body"><summary>Formatted version</summary>
    <iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc=${doc} title="Formatted email" referrerpolicy="no-referrer"></iframe>
  </details>`;
}

export function Message({ m }) {
  const who = m.internal ? 'note' : authors[m.author] || 'system';
  const state = delivery[m.delivery] || (m.author === 'AUTHOR_AGENT' && !m.internal ? 'sending' : '');
  return html`<li class=${'msg ' + who} data-seq=${m.seq}>
    <div class="meta">
      <span class="author">${m.internal ? 'Note · ' + (m.author_id || '') : who === 'agent' ? m.author_id : who}</span>
      <time>${time(m.at_ms)}</time>
      ${state && html`<span class=${'delivery ' + state} title=${m.delivery_detail || ''}>${state}${
        state === 'failed' && m.delivery_detail ? ': ' + m.delivery_detail : ''}</span>`}
    </div>
    ${m.survey && html`<div class="survey-sent">Satisfaction survey sent</div>`}
    ${m.csat && html`<div class="csat" aria-label=${`Customer rated ${num(m.csat.rating)} of ${num(m.csat.scale)}`}>
      Rated ${num(m.csat.rating)} of ${num(m.csat.scale)} ${'★'.repeat(num(m.csat.rating))}${'☆'.repeat(Math.max(0, num(m.csat.scale) - num(m.csat.rating)))}</div>`}
    ${m.subject && html`<div class="subject">${m.subject}</div>`}
    <div class="text">${m.text_body}</div>
    ${m.html_body && html`<${HtmlBody} body=${m.html_body} />`}
    ${(m.attachments || []).length > 0 &&
    html`<ul class="attachments">${m.attachments.map((a) => html`<li>${a.name || a.content_type} (${a.size_bytes} bytes)</li>`)}</ul>`}
  </li>`;
}
