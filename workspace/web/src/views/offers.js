import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { clock, num, offers } from '../store.js';
import { send } from '../stream.js';
import { channelName } from '../notify.js';

function OfferCard({ offer, first }) {
  const [rejecting, setRejecting] = useState(false);
  const c = offer.conversation || {};
  const left = Math.max(0, Math.round((num(offer.expires_at_ms) - clock.value) / 1000));
  const reject = (ev) => {
    ev.preventDefault();
    send({ cmd: 'reject', offer_id: offer.offer_id, reason: ev.currentTarget.reason.value });
  };
  return html`<section class="offer" role="alertdialog" aria-label=${'Offer from ' + (c.customer_display_name || c.customer_handle)}
      data-offer=${offer.offer_id}>
    <div class="offer-head">
      <span class="chan">${channelName(c.channel)}</span>
      <strong>${c.customer_display_name || c.customer_handle}</strong>
      <span class="countdown" aria-label="seconds left">${left}s</span>
    </div>
    ${c.subject && html`<div class="subject">${c.subject}</div>`}
    <p class="preview">${offer.preview}</p>
    ${rejecting
      ? html`<form class="reject-form" onSubmit=${reject}>
          <label for=${'reason-' + offer.offer_id}>Reason</label>
          <select id=${'reason-' + offer.offer_id} name="reason" autofocus>
            <option>Busy with another customer</option>
            <option>Wrong language</option>
            <option>Wrong skill</option>
            <option>Going on a break</option>
          </select>
          <button type="submit" class="reject-confirm">Reject</button>
          <button type="button" onClick=${() => setRejecting(false)}>Cancel</button>
        </form>`
      : html`<div class="actions">
          <button class="accept primary" onClick=${() => send({ cmd: 'accept', offer_id: offer.offer_id })}
            title=${first ? 'A' : ''}>Accept</button>
          <button class="reject" onClick=${() => setRejecting(true)} title=${first ? 'D' : ''}>Reject…</button>
        </div>`}
  </section>`;
}

export function Offers() {
  if (!offers.value.length) return null;
  return html`<div id="offers" class="offers" aria-live="assertive">
    ${offers.value.map((o, i) => html`<${OfferCard} key=${o.offer_id} offer=${o} first=${i === 0} />`)}
  </div>`;
}

export function acceptFirst() {
  const o = offers.value[0];
  if (o) send({ cmd: 'accept', offer_id: o.offer_id });
}

export function rejectFirst() {
  const b = document.querySelector('.offer .reject');
  if (b) b.click();
}
