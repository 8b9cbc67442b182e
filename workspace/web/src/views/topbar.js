import { html } from '../html.js';
import { link, me, presence, router } from '../store.js';
import { send } from '../stream.js';
import { askPermission } from '../notify.js';

const linkText = { live: 'Live', connecting: 'Reconnecting…', 'signed-out': 'Signed out' };

export function setPresence(p) {
  if (p === 'available') askPermission();
  send({ cmd: 'presence', presence: p });
}

const kModes = [['desk', 'Desk'], ['board', 'Live board'], ['reports', 'Reports']];

export function TopBar({ onSignOut, onHelp, onManage, mode, onMode }) {
  const available = presence.value === 'available';
  return html`<header class="topbar">
    <strong class="brand">omniroute</strong>
    <span class="who">${me.value.agent} · ${me.value.workspace}${me.value.role === 'supervisor' ? ' · supervisor' : ''}</span>
    <span id="link" class=${'link ' + link.value} role="status">${linkText[link.value]}</span>
    ${link.value === 'live' && router.value !== 'connected' &&
    html`<span id="router-down" class="link connecting" role="alert">Router unreachable: no offers until it is back</span>`}
    <button id="presence" aria-pressed=${available} class=${available ? 'on' : ''}
      title="Alt+P" onClick=${() => setPresence(available ? 'away' : 'available')}>
      ${available ? 'Available' : 'Away'}
    </button>
    ${onMode && html`<nav class="modes" aria-label="Views">${kModes.map(([m, label]) => html`<button key=${m}
      id=${'mode-' + m} aria-pressed=${mode === m} class=${mode === m ? 'on' : ''} onClick=${() => onMode(m)}>${label}</button>`)}</nav>`}
    <button id="manage-button" onClick=${onManage} title="C">Canned responses</button>
    <button id="help-button" onClick=${onHelp} title="?">Shortcuts</button>
    <button id="sign-out" onClick=${onSignOut}>Sign out</button>
  </header>`;
}
