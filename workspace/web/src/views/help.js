import { useEffect, useRef } from 'preact/hooks';
import { html } from '../html.js';

export const shortcuts = [
  ['j / ↓', 'Next conversation'],
  ['k / ↑', 'Previous conversation'],
  ['r', 'Reply (focus the reply box)'],
  ['n', 'Internal note'],
  ['a', 'Accept the first offer'],
  ['d', 'Reject the first offer (asks for a reason)'],
  ['e', 'Resolve the open conversation'],
  ['t', 'Transfer'],
  ['s', 'Snooze'],
  ['l', 'Labels'],
  ['/', 'Search conversations'],
  ['c', 'Canned responses (and force-assign for supervisors)'],
  ['1 – 4', 'Open / Waiting for me / Snoozed / Closed'],
  ['Alt+P', 'Available / away'],
  ['b', 'Supervisors: the live board (again: back to the desk)'],
  ['g', 'Supervisors: reports (again: back to the desk)'],
  ['Enter', 'Send (in the reply box); Shift+Enter: new line'],
  ['/code or ::code', 'Canned response (in the reply box)'],
  ['Esc', 'Leave the reply box, close this help'],
  ['?', 'This help'],
];

export function Help({ onClose }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return html`<dialog id="help" ref=${ref} aria-labelledby="help-title" onClose=${onClose}>
    <h2 id="help-title">Keyboard shortcuts</h2>
    <table>${shortcuts.map(([k, v]) => html`<tr><th scope="row"><kbd>${k}</kbd></th><td>${v}</td></tr>`)}</table>
    <form method="dialog"><button autofocus>Close</button></form>
  </dialog>`;
}
