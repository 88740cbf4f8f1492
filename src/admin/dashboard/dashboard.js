// @ts-check
/* global document, window, fetch, uPlot, ResizeObserver, CSS, setInterval, clearInterval */
/**
 * Warden's dashboard (served as /assets/dashboard.js; plain JavaScript, no build step): the
 * munin picture over the last hour, day or week, top lists, bans with unban buttons, jails,
 * and a live list of blocks whose rows open the transaction's explanation. Every value
 * from the API is put in the page as text (textContent), never as markup: paths, user
 * agents and rule data come from attackers.
 */

const SERIES = [
  { key: 'requests', label: 'Requests', color: '#4c6ef5', fill: 'rgba(76,110,245,0.10)' },
  { key: 'upstream', label: 'Sent upstream', color: '#2f9e44' },
  { key: 'blocked', label: 'Blocked by the WAF', color: '#e03131' },
  { key: 'banned', label: 'Refused: banned', color: '#f08c00' },
  { key: 'rejected', label: 'Refused: malformed', color: '#9c36b5' },
];

/** How often each part is fetched again, ms. */
const REFRESH = { events: 2000, bans: 4000, status: 5000, graph: { hour: 10000, day: 60000, week: 60000 } };

const state = {
  range: /** @type {'hour'|'day'|'week'} */ ('hour'),
  /** @type {any} */ graph: null,
  /** @type {any} */ lastSeries: null,
  /** @type {string|null} */ selected: null,
};
// For the console and the browser test: what the graph shows.
Object.defineProperty(window, 'wardenDashboard', { value: state });

/**
 * An element with attributes and children (strings become text nodes).
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {...(Node|string|number|null|undefined)} children
 * @returns {HTMLElement}
 */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined) continue;
    el.append(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const number = new Intl.NumberFormat('en');

/** @param {number} ms */
function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** @param {number} s  seconds, said in the largest unit that reads well */
function duration(s) {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400 && s % 3600 !== 0) return `${Math.round(s / 60)} min`;
  if (s < 129600 && s % 86400 !== 0) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** @param {number} ms */
function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 */
async function api(path, init) {
  const res = await fetch(path, { credentials: 'same-origin', ...init });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}

/**
 * Replaces a table's content: a header row and body rows (or one "empty" row).
 * @param {HTMLElement} table
 * @param {Array<string|[string, string]>} head  labels, or [label, class]
 * @param {HTMLElement[]} rows
 * @param {string} empty
 */
function fill(table, head, rows, empty) {
  const thead = h('thead', {}, h('tr', {}, ...head.map((c) => (Array.isArray(c) ? h('th', { class: c[1] }, c[0]) : h('th', {}, c)))));
  const tbody = h('tbody');
  if (rows.length === 0) tbody.append(h('tr', { class: 'empty' }, h('td', { colspan: String(head.length) }, empty)));
  else tbody.append(...rows);
  table.replaceChildren(thead, tbody);
}

// ---------------------------------------------------------------- the graph

/** @param {any} view */
function drawGraph(view) {
  state.lastSeries = view;
  const perMinute = 60000 / view.step;
  const x = view.t.map((/** @type {number} */ t) => t / 1000);
  const data = [x, ...SERIES.map((s) => view.series[s.key].map((/** @type {number} */ v) => v * perMinute))];
  $('graph-unit').textContent = `per minute (${view.step / 1000 >= 60 ? `${view.step / 60000}-minute` : `${view.step / 1000}-second`} buckets)`;
  const totals = $('totals');
  totals.replaceChildren(
    ...SERIES.map((s) => {
      const sum = view.series[s.key].reduce((/** @type {number} */ a, /** @type {number} */ b) => a + b, 0);
      return h('div', { class: `total ${s.key}`, 'data-series': s.key }, h('span', { class: 'n' }, number.format(sum)), h('span', { class: 'l' }, s.label));
    }),
  );
  const el = $('graph');
  if (state.graph === null) {
    state.graph = new uPlot(
      {
        width: el.clientWidth,
        height: 300,
        cursor: { drag: { x: false, y: false } },
        scales: { y: { range: (/** @type {any} */ _u, /** @type {number} */ _min, /** @type {number} */ max) => [0, Math.max(1, max * 1.1)] } },
        axes: [{ stroke: '#6b7280', grid: { stroke: '#eef0f3' } }, { stroke: '#6b7280', grid: { stroke: '#eef0f3' }, size: 60 }],
        series: [
          {},
          ...SERIES.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: s.key === 'requests' ? 2 : 1.5,
            ...(s.fill ? { fill: s.fill } : {}),
            value: (/** @type {any} */ _u, /** @type {number|null} */ v) => (v === null ? '–' : number.format(Math.round(v * 10) / 10)),
          })),
        ],
      },
      data,
      el,
    );
    new ResizeObserver(() => state.graph.setSize({ width: el.clientWidth, height: 300 })).observe(el);
  } else {
    state.graph.setData(data);
  }
}

async function refreshGraph() {
  try {
    drawGraph(await api(`/api/series?range=${state.range}`));
    await refreshTop();
  } catch (err) {
    $('totals').replaceChildren(h('span', { class: 'error' }, `graph: ${/** @type {Error} */ (err).message}`));
  }
}

// ---------------------------------------------------------------- top lists

/**
 * @param {string} id
 * @param {Array<{key: string, count: number}>} items
 * @param {string} label
 */
function topTable(id, items, label) {
  const max = Math.max(1, ...items.map((i) => i.count));
  const rows = items.map((i) => {
    const bar = h('span');
    bar.style.width = `${Math.round((i.count / max) * 100)}%`;
    return h('tr', {}, h('td', { class: 'mono clip', title: i.key }, i.key), h('td', { class: 'num' }, number.format(i.count)), h('td', { class: 'bar' }, bar));
  });
  fill($(id), [label, ['count', 'num'], ''], rows, 'nothing yet');
}

async function refreshTop() {
  const top = await api(`/api/top?range=${state.range}&limit=10`);
  topTable('top-rules', top.rules, 'rule');
  topTable('top-clients', top.clients, 'address');
  topTable('top-paths', top.paths, 'path');
}

// ---------------------------------------------------------------- live list of blocks

async function refreshEvents() {
  try {
    const events = await api('/api/events?limit=50');
    const rows = events.map((/** @type {any} */ e) => {
      const tr = h(
        'tr',
        { tabindex: '0', 'data-id': e.id, title: 'Explain this transaction' },
        h('td', { class: 'num' }, clock(e.time)),
        h('td', { class: 'mono' }, e.clientAddress),
        h('td', { class: 'mono clip', title: `${e.method} ${e.uri}` }, `${e.method} ${e.uri}`),
        h('td', {}, h('span', { class: 'badge' }, `${e.action} ${e.status}`)),
        h('td', { class: 'num' }, e.ruleId || '–'),
        h('td', { class: 'num' }, e.anomalyScore || '–'),
        h('td', { class: 'clip', title: e.ruleIds.join(', ') }, e.ruleIds.filter((/** @type {number} */ r) => r !== e.ruleId).join(', ')),
      );
      if (e.id === state.selected) tr.classList.add('selected');
      tr.addEventListener('click', () => void explain(e.id));
      tr.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter') void explain(e.id);
      });
      return tr;
    });
    fill($('events'), [['time', 'num'], 'client', 'request', 'verdict', ['rule', 'num'], ['score', 'num'], 'also matched'], rows, 'no blocked request yet');
  } catch (err) {
    fill($('events'), ['error'], [h('tr', {}, h('td', { class: 'error' }, /** @type {Error} */ (err).message))], '');
  }
}

// ---------------------------------------------------------------- explanation

/** @param {string} id */
async function explain(id) {
  state.selected = id;
  for (const tr of document.querySelectorAll('#events tr.selected')) tr.classList.remove('selected');
  document.querySelector(`#events tr[data-id="${CSS.escape(id)}"]`)?.classList.add('selected');
  const drawer = $('explain');
  const body = $('explain-body');
  $('explain-id').textContent = id;
  body.replaceChildren(h('p', { class: 'unit' }, 'evaluating the request again with tracing…'));
  drawer.hidden = false;
  let t;
  try {
    t = await api(`/api/transactions/${encodeURIComponent(id)}`);
  } catch (err) {
    body.replaceChildren(h('p', { class: 'error' }, /** @type {Error} */ (err).message));
    return;
  }
  if (state.selected !== id) return;
  const e = t.explanation;
  const v = t.recorded.verdict;
  const parts = [];
  parts.push(
    h('p', { class: `verdict ${v.action}` }, v.action === 'pass' ? 'Passed (no rule stopped it)' : `${v.action} with status ${v.status} by rule ${v.ruleId} in phase ${v.phase}`),
  );
  parts.push(
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'request'),
      h('dd', { class: 'mono' }, `${e.request.method} ${e.request.target} ${e.request.protocol}`),
      h('dt', {}, 'client'),
      h('dd', { class: 'mono' }, e.request.remoteAddr),
      h('dt', {}, 'time'),
      h('dd', {}, `${new Date(t.time).toLocaleString()} (${ago(t.time)})`),
      h('dt', {}, 'status sent'),
      h('dd', {}, t.status === 0 ? 'none (connection closed)' : String(t.status)),
      h('dt', {}, 'body'),
      h('dd', {}, `${number.format(t.bodyLength)} bytes${e.bodyProcessor ? `, processor ${e.bodyProcessor}` : ''}${e.bodyError ? ` — error: ${e.bodyError}` : ''}`),
      h('dt', {}, 'anomaly score'),
      h('dd', {}, e.anomalyScore ?? '–'),
    ),
  );
  if (t.rules === 'current') parts.push(h('p', { class: 'note' }, 'The rules were reloaded since: the request was explained with the rules in use now.'));
  if (t.bodyTruncated) parts.push(h('p', { class: 'note' }, 'The body was longer than what is kept: the explanation saw its first 64 KiB.'));
  if (e.verdict.action !== v.action) parts.push(h('p', { class: 'note' }, `Evaluated again, the request phases give: ${e.verdict.action}${e.verdict.ruleId ? ` by rule ${e.verdict.ruleId}` : ''} (a response-phase rule or stored collections can make the difference).`));
  parts.push(h('h3', {}, `Matched rules (${e.rules.length})`));
  for (const r of e.rules) {
    const box = h(
      'div',
      { class: `rule${r.decisive ? ' decisive' : ''}` },
      h('h3', {}, `rule ${r.id}`, r.severity ? h('span', { class: 'sev' }, r.severity) : null, r.msg ? ` ${r.msg}` : ''),
      r.file ? h('div', { class: 'where' }, `${r.file}:${r.line}`) : null,
      r.data ? h('div', { class: 'data' }, `data: ${r.data}`) : null,
    );
    for (const m of r.targets) {
      if (m.variable === '') {
        box.append(h('div', { class: 'target' }, h('span', { class: 'op' }, `${m.chainLink ? '(chained) ' : ''}${m.operator}`)));
        continue;
      }
      box.append(
        h(
          'div',
          { class: 'target' },
          m.chainLink ? '(chained) ' : '',
          h('span', { class: 'var' }, m.variable),
          ' = ',
          h('code', {}, JSON.stringify(m.value)),
          m.transforms.length > 0 ? h('span', { class: 'tf' }, ` after t:${m.transforms.join(',t:')} (raw ${JSON.stringify(m.rawValue)})`) : null,
          h('div', { class: 'op' }, `${m.operator.length > 160 ? `${m.operator.slice(0, 160)}…` : m.operator} → match`),
        ),
      );
    }
    parts.push(box);
  }
  body.replaceChildren(...parts);
}

// ---------------------------------------------------------------- bans, jails, status

/**
 * @param {string} address
 * @param {string} jail
 * @param {HTMLButtonElement} button
 */
async function unban(address, jail, button) {
  button.disabled = true;
  try {
    await api(`/api/bans/${encodeURIComponent(address)}?jail=${encodeURIComponent(jail)}`, { method: 'DELETE' });
  } catch (err) {
    button.disabled = false;
    button.title = /** @type {Error} */ (err).message;
  }
  await refreshBans();
}

async function refreshBans() {
  try {
    const [bans, jails] = await Promise.all([api('/api/bans'), api('/api/jails')]);
    $('bans-count').textContent = bans.length === 0 ? '' : `${bans.length}`;
    const banRows = bans.map((/** @type {any} */ b) => {
      const button = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'unban', 'data-address': b.address, 'data-jail': b.jail }, 'Unban'));
      button.addEventListener('click', () => void unban(b.address, b.jail, button));
      return h(
        'tr',
        { 'data-address': b.address },
        h('td', { class: 'mono' }, b.address),
        h('td', {}, b.jail),
        h('td', { class: 'num', title: b.since }, ago(b.sinceMs)),
        h('td', { class: 'num' }, b.untilMs === null ? 'never' : `in ${duration((b.untilMs - Date.now()) / 1000)}`),
        h('td', { class: 'clip', title: b.reason }, b.reason),
        h('td', {}, button),
      );
    });
    fill($('bans'), ['address', 'jail', ['since', 'num'], ['ends', 'num'], 'reason', ''], banRows, 'no active ban');
    const jailRows = jails.map((/** @type {any} */ j) =>
      h(
        'tr',
        {},
        h('td', {}, j.jail),
        h('td', {}, j.source ?? '–'),
        h('td', { class: 'num' }, number.format(j.failures)),
        h('td', { class: 'num' }, number.format(j.banned)),
        h('td', { class: 'num' }, j.linesRead === null ? '–' : `${number.format(j.linesMatched)} / ${number.format(j.linesRead)}`),
        h('td', { class: 'num' }, `${j.maxRetry} in ${duration(j.findTimeSeconds)} → ${j.banTimeSeconds === null ? 'for ever' : duration(j.banTimeSeconds)}`),
      ),
    );
    fill($('jails'), ['jail', 'source', ['failures', 'num'], ['banned', 'num'], ['matched / read', 'num'], ['rule', 'num']], jailRows, 'no jail');
  } catch (err) {
    $('bans-count').textContent = /** @type {Error} */ (err).message;
  }
}

async function refreshStatus() {
  try {
    const s = await api('/api/status');
    const up = duration(s.uptimeSeconds);
    $('status').textContent = [
      `${s.version}`,
      `${s.workers} worker${s.workers === 1 ? '' : 's'}`,
      `${number.format(s.rules)} rule${s.rules === 1 ? '' : 's'}${s.mode ? ` (engine ${s.mode})` : ''}`,
      `up ${up}`,
      `${number.format(s.totals.requests)} requests, ${number.format(s.totals.blocked)} blocked, ${number.format(s.totals.banned)} refused by bans since start`,
    ].join(' · ');
  } catch (err) {
    $('status').textContent = `not reachable: ${/** @type {Error} */ (err).message}`;
  }
}

// ---------------------------------------------------------------- wiring

/** @type {ReturnType<typeof setInterval>|null} */
let graphTimer = null;

/** @param {'hour'|'day'|'week'} range */
function setRange(range) {
  state.range = range;
  for (const b of document.querySelectorAll('#ranges button')) b.setAttribute('aria-pressed', String(b.getAttribute('data-range') === range));
  if (graphTimer !== null) clearInterval(graphTimer);
  graphTimer = setInterval(() => void refreshGraph(), REFRESH.graph[range]);
  void refreshGraph();
}

for (const b of document.querySelectorAll('#ranges button')) {
  b.addEventListener('click', () => setRange(/** @type {any} */ (b.getAttribute('data-range'))));
}
$('explain-close').addEventListener('click', () => {
  $('explain').hidden = true;
  state.selected = null;
  for (const tr of document.querySelectorAll('#events tr.selected')) tr.classList.remove('selected');
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape') $('explain-close').click();
});

setRange('hour');
void refreshStatus();
void refreshEvents();
void refreshBans();
setInterval(() => void refreshStatus(), REFRESH.status);
setInterval(() => void refreshEvents(), REFRESH.events);
setInterval(() => void refreshBans(), REFRESH.bans);
