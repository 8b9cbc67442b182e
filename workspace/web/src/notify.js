// An offer announces itself: a short tone (Web Audio, no asset) and a desktop
// notification when the person allowed them and the tab is not in front.
let audio = null;

function tone() {
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.15, audio.currentTime);
    g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    o.connect(g).connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.4);
  } catch (e) {
    // no audio device: the toast still shows
  }
}

export function askPermission() {
  if ('Notification' in window && Notification.permission === 'default')
    Notification.requestPermission().catch(() => {});
}

export function announceOffer(offer) {
  tone();
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const c = offer.conversation || {};
  try {
    const n = new Notification(`New ${channelName(c.channel)} conversation`, {
      body: `${c.customer_display_name || c.customer_handle || 'Customer'}: ${offer.preview || ''}`,
      tag: offer.offer_id,
    });
    n.onclick = () => window.focus();
  } catch (e) {
    // some platforms refuse notifications from pages
  }
}

export function channelName(ch) {
  return (ch || '').replace('CHANNEL_', '').toLowerCase() || 'unknown';
}
