// Obelisk dashboard: one page, no build step, no network beyond this server.
// It polls /health, /metrics and /v1/topics (every `interval` ms, ?interval= to change it),
// derives rates from counter deltas, draws charts with uPlot (embedded at build time), and for
// the selected topic shows its groups (lag, pending, committed, lag over time), an entry
// browser (pages through a range) and a live tail (Server-Sent Events).
'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  const interval = Math.max(200, Number(params.get('interval')) || 1000);
  const HISTORY = 120; // points kept per series
  const $ = (id) => document.getElementById(id);

  // ---- formatting and encoding ----
  const fmtNum = (v, digits = 1) => (v == null || !isFinite(v) ? '–'
    : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits));
  const fmtBytes = (b) => {
    if (b == null) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return `${i ? b.toFixed(1) : b} ${u[i]}`;
  };
  // API byte strings: a string, or {"base64": ...} for bytes that are not UTF-8.
  const shown = (v) => (typeof v === 'string' ? v : v && v.base64 !== undefined ? `b64:${v.base64}` : String(v));
  const keyBytes = (k) => {
    if (typeof k === 'string') return new TextEncoder().encode(k);
    const bin = atob(k.base64);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  };
  const encKey = (k) => Array.from(keyBytes(k), (b) => '%' + b.toString(16).padStart(2, '0')).join('');
  const keyId = (k) => (typeof k === 'string' ? k : `b64:${k.base64}`);

  async function getJSON(url) {
    const r = await fetch(url, { cache: 'no-store' });
    const body = await r.json().catch(() => null);
    if (!r.ok) {
      const msg = body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${r.status}`;
      throw Object.assign(new Error(msg), { status: r.status });
    }
    return body;
  }

  // ---- Prometheus text: name{labels} value -> map of name -> value (unlabelled) ----
  function parseMetrics(text) {
    const m = new Map();
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const sp = line.lastIndexOf(' ');
      const name = line.slice(0, sp);
      if (name.includes('{')) continue;
      m.set(name, Number(line.slice(sp + 1)));
    }
    return m;
  }

  // ---- charts ----
  const hasPlot = typeof window.uPlot === 'function';
  if (!hasPlot) $('charts-missing').classList.remove('hidden');
  function makeChart(el, series) {
    if (!hasPlot) return null;
    const opts = {
      width: Math.max(300, el.clientWidth || 420), height: 180,
      legend: { show: true }, scales: { x: { time: true } },
      series: [{}, ...series.map((s, i) => ({ label: s, stroke: ['#2f6fdb', '#1f8f4e', '#c0392b', '#b7791f', '#7d3cb5', '#138d90'][i % 6], width: 2 }))],
      axes: [{}, { size: 60 }],
    };
    return new window.uPlot(opts, [[], ...series.map(() => [])], el);
  }
  const hist = { t: [], in: [], out: [], fsync: [] };
  const tpChart = makeChart($('chart-throughput'), ['in', 'out']);
  const fsChart = makeChart($('chart-fsync'), ['fsync ms']);
  function push(arr, v) { arr.push(v); if (arr.length > HISTORY) arr.shift(); }

  // ---- state ----
  let prev = null;      // previous metrics sample {t, m}
  let topics = [];      // rows of the table
  const prevAdded = new Map(); // keyId -> {t, added}
  let sort = { col: 'key', dir: 1 };
  let selected = null;  // key (API form) of the selected topic
  let lagHist = null;   // {t: [], groups: Map(name -> [])}
  let lagChart = null;
  let page = { first: null, last: null };
  let tail = null;      // EventSource
  let view = 0;         // bumped by each page load and tail start: a slower, older load is dropped

  // ---- health and metrics ----
  async function pollServer() {
    let health;
    try {
      const r = await fetch('/health', { cache: 'no-store' });
      health = await r.json();
      $('error-banner').classList.add('hidden');
    } catch (e) {
      $('health-status').textContent = 'unreachable';
      $('health-status').className = 'badge bad';
      $('error-banner').textContent = 'The server does not answer. Retrying…';
      $('error-banner').classList.remove('hidden');
      return false;
    }
    const st = health.status;
    $('health-status').textContent = st;
    $('health-status').className = `badge ${st === 'ok' ? 'ok' : st === 'loading' ? 'warn' : 'bad'}`;
    $('loading-state').classList.toggle('hidden', st !== 'loading');
    let m;
    try { m = parseMetrics(await (await fetch('/metrics', { cache: 'no-store' })).text()); } catch { return true; }
    const now = Date.now() / 1000;
    if (prev) {
      const dt = now - prev.t;
      const d = (n) => (m.get(n) ?? 0) - (prev.m.get(n) ?? 0);
      const rin = d('obelisk_entries_appended_total') / dt;
      const rout = d('obelisk_entries_served_total') / dt;
      const fc = d('obelisk_fsync_duration_seconds_count');
      const fms = fc > 0 ? (d('obelisk_fsync_duration_seconds_sum') / fc) * 1000 : null;
      const hits = d('obelisk_cache_hits_total'), misses = d('obelisk_cache_misses_total');
      const allHits = m.get('obelisk_cache_hits_total') ?? 0, allMiss = m.get('obelisk_cache_misses_total') ?? 0;
      const hit = hits + misses > 0 ? hits / (hits + misses) : allHits + allMiss > 0 ? allHits / (allHits + allMiss) : null;
      $('stat-in').textContent = fmtNum(rin);
      $('stat-out').textContent = fmtNum(rout);
      $('stat-fsync').textContent = fms == null ? 'idle' : `${fmtNum(fms, 2)} ms`;
      $('stat-hit').textContent = hit == null ? '–' : `${(hit * 100).toFixed(1)} %`;
      push(hist.t, now); push(hist.in, rin); push(hist.out, rout); push(hist.fsync, fms ?? 0);
      if (tpChart) tpChart.setData([hist.t, hist.in, hist.out]);
      if (fsChart) fsChart.setData([hist.t, hist.fsync]);
    }
    $('stat-disk').textContent = fmtBytes(m.get('obelisk_disk_bytes'));
    prev = { t: now, m };
    return true;
  }

  // ---- topics table ----
  async function pollTopics() {
    const rows = [];
    let cursor = null;
    for (let i = 0; i < 20; i++) {
      const q = new URLSearchParams({ count: '500' });
      if (cursor) q.set('cursor', cursor);
      const page1 = await getJSON(`/v1/topics?${q}`);
      rows.push(...page1.topics);
      cursor = page1.cursor;
      if (!cursor) break;
    }
    const now = Date.now() / 1000;
    for (const t of rows) {
      const id = keyId(t.key);
      const p = prevAdded.get(id);
      if (p && now - p.t >= 0.5) {
        t.rate = Math.max(0, (t.entries_added - p.added) / (now - p.t));
        prevAdded.set(id, { t: now, added: t.entries_added, rate: t.rate });
      } else {
        t.rate = p ? p.rate ?? t.append_rate : t.append_rate;
        if (!p) prevAdded.set(id, { t: now, added: t.entries_added, rate: null });
      }
    }
    topics = rows;
    renderTopics();
  }

  function renderTopics() {
    const filter = $('topic-filter').value.trim().toLowerCase();
    const val = (t, c) => (c === 'key' ? keyId(t.key).toLowerCase() : c === 'disk' ? t.disk_bytes : c === 'rate' ? t.rate ?? -1 : t[c]);
    const rows = topics.filter((t) => !filter || keyId(t.key).toLowerCase().includes(filter))
      .sort((a, b) => { const x = val(a, sort.col), y = val(b, sort.col); return (x < y ? -1 : x > y ? 1 : 0) * sort.dir; });
    const tb = $('topics').tBodies[0];
    tb.textContent = '';
    for (const t of rows) {
      const tr = tb.insertRow();
      tr.dataset.key = keyId(t.key);
      if (selected && keyId(selected) === tr.dataset.key) tr.classList.add('selected');
      const cells = [[shown(t.key), ''], [fmtNum(t.length, 0), 'num'], [t.rate == null ? '–' : fmtNum(t.rate), 'num'],
        [fmtBytes(t.disk_bytes), 'num'], [String(t.groups), 'num'], [t.last_id ?? '–', '']];
      for (const [text, cls] of cells) { const td = tr.insertCell(); td.textContent = text; if (cls) td.className = cls; }
      tr.addEventListener('click', () => selectTopic(t.key));
    }
    $('topics-empty').classList.toggle('hidden', topics.length > 0);
    $('topics-nomatch').classList.toggle('hidden', !(topics.length > 0 && rows.length === 0));
    for (const th of document.querySelectorAll('#topics th[data-sort]')) {
      th.classList.toggle('sorted-asc', th.dataset.sort === sort.col && sort.dir > 0);
      th.classList.toggle('sorted-desc', th.dataset.sort === sort.col && sort.dir < 0);
    }
  }
  for (const th of document.querySelectorAll('#topics th[data-sort]')) {
    th.addEventListener('click', () => {
      sort = { col: th.dataset.sort, dir: sort.col === th.dataset.sort ? -sort.dir : 1 };
      renderTopics();
    });
  }
  $('topic-filter').addEventListener('input', renderTopics);

  // ---- one topic ----
  function topicUrl(suffix = '') { return `/v1/topics/${encKey(selected)}${suffix}`; }

  function selectTopic(key) {
    stopTail();
    selected = key;
    lagHist = { t: [], groups: new Map() };
    if (lagChart) { lagChart.destroy(); lagChart = null; }
    $('chart-lag').textContent = '';
    $('topic').classList.remove('hidden');
    $('topic-name').textContent = shown(key);
    $('range-start').value = '-';
    $('range-end').value = '+';
    renderTopics();
    pollTopic();
    loadPage('first');
  }

  async function pollTopic() {
    if (!selected) return;
    let info;
    try {
      info = await getJSON(topicUrl());
      $('topic-error').classList.add('hidden');
    } catch (e) {
      $('topic-error').textContent = e.status === 404 ? 'This topic no longer exists.' : `Cannot read the topic: ${e.message}`;
      $('topic-error').classList.remove('hidden');
      return;
    }
    $('topic-summary').textContent = `${fmtNum(info.length, 0)} entries · ${fmtBytes(info.disk_bytes)} on disk · last ID ${info['last-generated-id']} · retention ${info.retention['effective-bytes'] < 0 ? 'unlimited' : fmtBytes(info.retention['effective-bytes'])}`;
    const groups = info.groups || [];
    const tb = $('groups').tBodies[0];
    tb.textContent = '';
    for (const g of groups) {
      const tr = tb.insertRow();
      tr.dataset.group = shown(g.group);
      for (const [text, cls] of [[shown(g.group), ''], [fmtNum(g.lag, 0), 'num'], [fmtNum(g.pending, 0), 'num'],
        [g.committed ?? '–', ''], [g['last-delivered'] ?? '–', '']]) {
        const td = tr.insertCell(); td.textContent = text; if (cls) td.className = cls;
      }
    }
    $('groups-empty').classList.toggle('hidden', groups.length > 0);
    // lag over time
    const now = Date.now() / 1000;
    push(lagHist.t, now);
    // two series per group: its lag and its pending count
    for (const g of groups) {
      for (const what of ['lag', 'pending']) {
        const name = `${shown(g.group)} ${what}`;
        if (!lagHist.groups.has(name)) lagHist.groups.set(name, new Array(lagHist.t.length - 1).fill(null));
      }
    }
    for (const [name, arr] of lagHist.groups) {
      const sp = name.lastIndexOf(' ');
      const g = groups.find((x) => shown(x.group) === name.slice(0, sp));
      push(arr, g ? g[name.slice(sp + 1)] : null);
      while (arr.length > lagHist.t.length) arr.shift();
    }
    if (hasPlot && lagHist.groups.size) {
      const names = [...lagHist.groups.keys()];
      if (!lagChart || lagChart.series.length !== names.length + 1) {
        if (lagChart) lagChart.destroy();
        $('chart-lag').textContent = '';
        lagChart = makeChart($('chart-lag'), names);
      }
      lagChart.setData([lagHist.t, ...names.map((n) => lagHist.groups.get(n))]);
    }
  }

  // ---- entry browser ----
  function renderEntries(entries, live = false) {
    const tb = $('entries').tBodies[0];
    if (!live) tb.textContent = '';
    for (const e of entries) {
      const tr = live ? tb.insertRow(0) : tb.insertRow();
      if (live) tr.className = 'live';
      tr.insertCell().textContent = e.id;
      const td = tr.insertCell();
      td.className = 'fields';
      const pairs = e.fields ? Object.entries(e.fields) : e.pairs || [];
      for (const [k, v] of pairs) {
        const c = document.createElement('code');
        c.textContent = `${shown(k)}=${shown(v)}`;
        td.appendChild(c);
      }
    }
    $('entries-empty').classList.toggle('hidden', tb.rows.length > 0);
  }

  async function loadPage(which) {
    if (!selected) return;
    const count = Math.max(1, Math.min(1000, Number($('range-count').value) || 20));
    const q = new URLSearchParams({ count: String(count) });
    let start = $('range-start').value || '-', end = $('range-end').value || '+';
    let reverse = false;
    if (which === 'next' && page.last) start = `(${page.last}`;
    if (which === 'prev' && page.first) { end = `(${page.first}`; reverse = true; }
    if (reverse) q.set('reverse', 'true');
    q.set('start', start); q.set('end', end);
    if (tail) stopTail(); // paging through history ends the live view
    const mine = ++view;
    try {
      const body = await getJSON(topicUrl(`/entries?${q}`));
      if (mine !== view) return; // a later page, tail or topic owns the table now
      let entries = body.entries;
      if (reverse) entries = entries.reverse();
      if (entries.length === 0 && which !== 'first') return; // stay on the page at the ends
      page = { first: entries[0]?.id ?? null, last: entries[entries.length - 1]?.id ?? null };
      $('tail-status').textContent = '';
      renderEntries(entries);
    } catch (e) {
      if (mine !== view) return;
      $('tail-status').textContent = `Cannot read entries: ${e.message}`;
    }
  }
  $('btn-load').addEventListener('click', () => loadPage('first'));
  $('btn-next').addEventListener('click', () => loadPage('next'));
  $('btn-prev').addEventListener('click', () => loadPage('prev'));

  function stopTail() {
    if (tail) { tail.close(); tail = null; }
    $('btn-tail').textContent = 'Live tail';
    $('tail-status').textContent = '';
  }
  $('btn-tail').addEventListener('click', () => {
    if (tail) return stopTail();
    if (!selected) return;
    view++;
    renderEntries([]);
    tail = new EventSource(topicUrl('/tail'));
    $('btn-tail').textContent = 'Stop tail';
    $('tail-status').textContent = 'connecting…';
    tail.onopen = () => { $('tail-status').textContent = 'live: new entries appear at the top'; };
    tail.addEventListener('entry', (ev) => { renderEntries([JSON.parse(ev.data)], true); });
    tail.onerror = () => { $('tail-status').textContent = 'tail interrupted, reconnecting…'; };
  });

  // ---- the loop ----
  async function tick() {
    try {
      if (await pollServer()) {
        await pollTopics().catch((e) => {
          $('error-banner').textContent = `Cannot list topics: ${e.message}`;
          $('error-banner').classList.remove('hidden');
        });
        await pollTopic();
      }
      $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    } finally {
      setTimeout(tick, interval);
    }
  }
  tick();
})();
