// Canned responses: pick the text for the conversation's language and fill its variables.
export function pickText(resp, language) {
  const texts = resp.texts || [];
  const lang = (language || '').toLowerCase();
  const exact = texts.find((t) => (t.language || '').toLowerCase() === lang);
  const primary = texts.find((t) => (t.language || '').toLowerCase().split('-')[0] === lang.split('-')[0]);
  const fallback = texts.find((t) => !t.language) || texts[0];
  return (exact || primary || fallback || { text: '' }).text;
}

export function fill(text, vars) {
  return text.replace(/\{([a-z_.]+)\}/g, (all, name) => (name in vars ? vars[name] : all));
}

export function variables(conv, me) {
  const s = conv.summary;
  const first = (s.customer_display_name || '').split(/\s+/)[0];
  return {
    'customer.name': s.customer_display_name || s.customer_handle || '',
    'customer.first_name': first || s.customer_display_name || '',
    'customer.handle': s.customer_handle || '',
    'agent.name': me.agent_name || me.agent,
    reference: s.conversation_id,
    subject: s.subject || '',
  };
}

// The shortcode being typed: "/code" at the start of the box or "::code" anywhere before
// the cursor. Returns {query, start} or null.
export function shortcodeAt(text, cursor) {
  const before = text.slice(0, cursor);
  let m = /^\/([\w-]*)$/.exec(before);
  if (m) return { query: m[1].toLowerCase(), start: 0 };
  m = /::([\w-]*)$/.exec(before);
  if (m) return { query: m[1].toLowerCase(), start: before.length - m[0].length };
  return null;
}
