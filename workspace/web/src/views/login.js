import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { signIn } from '../api.js';
import { me } from '../store.js';

export function Login() {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    setBusy(true);
    setError('');
    const r = await signIn(f.login.value, f.password.value).catch(() => ({
      status: 0,
      data: { error: 'cannot reach the server' },
    }));
    setBusy(false);
    if (r.status === 200) {
      f.password.value = '';
      me.value = r.data;
    } else {
      setError(r.data.error || `HTTP ${r.status}`);
      f.password.select();
    }
  };
  return html`<main class="login">
    <form onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title">omniroute · Agent workspace</h1>
      <label for="login">Login</label>
      <input id="login" name="login" autocomplete="username" required autofocus maxlength="128" />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024" />
      <p id="login-error" class="error" role="alert">${error}</p>
      <button id="login-submit" type="submit" disabled=${busy}>Sign in</button>
    </form>
  </main>`;
}
