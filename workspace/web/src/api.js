// The workspace's HTTP API (docs/workspace.md): sign-in, who am I, sign-out. Every
// state-changing request carries the session's CSRF token.
import { me } from './store.js';

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && me.value) headers['X-CSRF-Token'] = me.value.csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try {
    data = await res.json();
  } catch (e) {
    data = { error: `HTTP ${res.status}` };
  }
  return { status: res.status, data };
}

export const whoAmI = () => call('GET', 'api/me');
export const signIn = (login, password) => call('POST', 'api/login', { login, password });
export const signOut = () => call('POST', 'api/logout', {});
