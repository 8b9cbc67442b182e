// Reports for a supervisor: a date range and filters, the figures of docs/reports.md, an
// arrivals chart (uPlot) and the heat map, and the same report as CSV.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';

const day = (d) => d.toISOString().slice(0, 10);
const kFields = ['queue', 'channel', 'inbox', 'agent', 'language'];
const kDays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function query(f, extra = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...f, ...extra })) if (v) q.set(k, v);
  return 'api/reports?' + q.toString();
}

function secs(s) {
  if (!s) return '–';
  return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${Math.round(s)} s`;
}

// uPlot comes in charts.js, loaded the first time a chart is drawn (it would double the
// size of the script every agent loads).
let charts = null;
function loadCharts() {
  if (!charts)
    charts = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = 'charts.js';
      s.onload = () => resolve(window.omnirouteCharts.uPlot);
      s.onerror = () => { charts = null; reject(new Error('charts.js did not load')); };
      document.head.appendChild(s);
    });
  return charts;
}

function ArrivalsChart({ arrivals }) {
  const el = useRef(null);
  useEffect(() => {
    let plot = null, gone = false;
    const draw = (uPlot) => {
      if (gone || !el.current) return;
      const hours = [...Array(24).keys()];
      const perHour = hours.map((h) => arrivals.reduce((sum, row) => sum + row[h], 0));
      plot = new uPlot({
        width: Math.min(720, el.current.clientWidth || 720), height: 220,
        title: 'Arrivals by hour of day',
        scales: { x: { time: false } },
        axes: [{ label: 'hour' }, { label: 'conversations' }],
        series: [{}, { label: 'arrivals', stroke: '#1f6feb', fill: 'rgba(31,111,235,0.15)' }],
      }, [hours, perHour], el.current);
      el.current.dataset.drawn = 'true';
    };
    loadCharts().then(draw).catch(() => {});
    return () => { gone = true; if (plot) plot.destroy(); };
  }, [arrivals]);
  return html`<div ref=${el} class="chart" id="arrivals-chart" role="img" aria-label="Arrivals by hour of day"></div>`;
}

function Durations({ label, d }) {
  return html`<tr><th scope="row">${label}</th><td>${d.count}</td><td>${secs(d.median_s)}</td><td>${secs(d.p90_s)}</td><td>${secs(d.mean_s)}</td></tr>`;
}

// Satisfaction: surveys sent and answered, the mean on a 5-point basis, % satisfied, by
// agent, queue and channel.
function Csat({ c }) {
  const rows = (label, list) =>
    list.map((g) => html`<tr key=${label + g.name}><th scope="row">${label} ${g.name || '—'}</th><td>${g.sent}</td><td>${g.answered}</td>
      <td>${g.answered ? g.mean_of_5.toFixed(2) : '–'}</td><td>${g.answered ? g.satisfied_percent.toFixed(1) + ' %' : '–'}</td></tr>`);
  return html`<table class="board-table" id="r-csat" aria-label="Customer satisfaction">
    <thead><tr><th scope="col">Satisfaction</th><th scope="col">Surveys sent</th><th scope="col">Answered</th><th scope="col">Mean (of 5)</th><th scope="col">Satisfied</th></tr></thead>
    <tbody>
      <tr class="total"><th scope="row">All</th><td data-csat="sent">${c.sent}</td><td data-csat="answered">${c.answered}</td>
        <td data-csat="mean">${c.answered ? c.mean_of_5.toFixed(2) : '–'}</td><td data-csat="satisfied">${c.answered ? c.satisfied_percent.toFixed(1) + ' %' : '–'}</td></tr>
      ${rows('Agent', c.by_agent)}${rows('Queue', c.by_queue)}${rows('Channel', c.by_channel)}
    </tbody></table>`;
}

export function Reports() {
  const now = new Date();
  const [f, setF] = useState({ from: day(new Date(now - 6 * 86400000)), to: day(new Date(now.getTime() + 86400000)) });
  const [r, setR] = useState(null);
  const [error, setError] = useState('');
  const run = (e) => {
    if (e) e.preventDefault();
    fetch(query(f), { credentials: 'same-origin' })
      .then(async (res) => {
        const body = await res.json().catch(() => ({}));
        if (res.ok) { setR(body); setError(''); } else { setR(null); setError(body.error || `HTTP ${res.status}`); }
      })
      .catch(() => setError('The server cannot be reached'));
  };
  useEffect(() => run(), []);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  return html`<section class="reports" id="reports" aria-label="Reports">
    <form class="report-form" onSubmit=${run}>
      <label for="r-from">From</label><input id="r-from" type="date" value=${f.from} onInput=${set('from')} />
      <label for="r-to">To</label><input id="r-to" type="date" value=${f.to} onInput=${set('to')} />
      ${kFields.map((k) => html`<label for=${'r-' + k}>${k}</label><input id=${'r-' + k} value=${f[k] || ''} onInput=${set(k)} maxlength="128" />`)}
      <button type="submit" id="r-run">Show</button>
      <a id="r-csv" href=${query(f, { format: 'csv' })} download>Download CSV</a>
    </form>
    ${error && html`<p class="notice error" role="alert" id="r-error">${error}</p>`}
    ${r && html`<div class="report">
      <table class="board-table" id="r-counts" aria-label="Counts"><tbody>
        ${Object.entries(r.counts).map(([k, v]) => html`<tr key=${k}><th scope="row">${k.replace(/_/g, ' ')}</th><td data-count=${k}>${v}</td></tr>`)}
      </tbody></table>
      <table class="board-table" id="r-times" aria-label="Times">
        <thead><tr><th scope="col">Time</th><th scope="col">Count</th><th scope="col">Median</th><th scope="col">p90</th><th scope="col">Mean</th></tr></thead>
        <tbody>
          <${Durations} label="First response" d=${r.first_response.calendar} />
          <${Durations} label="First response (business hours)" d=${r.first_response.business} />
          <${Durations} label="Next response" d=${r.next_response.calendar} />
          <${Durations} label="Next response (business hours)" d=${r.next_response.business} />
          <${Durations} label="Resolution" d=${r.resolution.calendar} />
          <${Durations} label="Resolution (business hours)" d=${r.resolution.business} />
          <${Durations} label="Wait to accept" d=${r.wait_to_accept} />
          <${Durations} label="Bot first response" d=${r.bot.first_response} />
        </tbody>
      </table>
      <table class="board-table" id="r-sl" aria-label="Service level"><tbody>
        ${r.service_level.map((s) => html`<tr key=${s.threshold_s}><th scope="row">Accepted within ${secs(s.threshold_s)}</th>
          <td>${s.percent.toFixed(1)} % (${s.met} of ${s.total})</td></tr>`)}
      </tbody></table>
      <${ArrivalsChart} arrivals=${r.arrivals} />
      <table class="heat" aria-label="Arrivals by weekday and hour"><thead><tr><th scope="col">Day</th>
        ${[...Array(24).keys()].map((h) => html`<th scope="col" key=${h}>${h}</th>`)}</tr></thead>
        <tbody>${r.arrivals.map((row, d) => html`<tr key=${d}><th scope="row">${kDays[d]}</th>
          ${row.map((n, h) => html`<td key=${h} class=${n ? 'hot' : ''} style=${n ? { '--n': String(Math.min(1, n / 20)) } : undefined}>${n || ''}</td>`)}</tr>`)}</tbody>
      </table>
      <table class="board-table" id="r-agents" aria-label="Agents">
        <thead><tr><th scope="col">Agent</th><th scope="col">Handled</th><th scope="col">Handle time</th><th scope="col">Online</th><th scope="col">Utilisation</th></tr></thead>
        <tbody>${r.agents.map((a) => html`<tr key=${a.agent}><th scope="row">${a.agent}${a.bot ? ' (bot)' : ''}</th><td>${a.handled}</td>
          <td>${secs(a.handle_time_mean_s)}</td><td>${secs(a.online_s)}</td><td>${(a.utilisation * 100).toFixed(0)} %</td></tr>`)}</tbody>
      </table>
      ${r.csat && html`<${Csat} c=${r.csat} />`}
    </div>`}
  </section>`;
}
