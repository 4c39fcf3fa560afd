/**
 * Dashboard script (`/dashboard/app.js`): plain browser JavaScript, no framework, no build step.
 * Reads one page of `/agents` (prefix/status filters, cursor paging), `/agents/summary` and
 * `/components` (polling), an agent's detail and logs on demand, tails `/events/stream` with fetch
 * (so it can send the Authorization header, which EventSource cannot) and resumes with
 * Last-Event-ID, and draws the cycle-duration chart (log scale, seeded from the ledger's recent
 * `agent.cycle`/`agent.failed` entries) on a canvas. The token is kept in localStorage.
 * Kept free of backticks and dollar-brace so it can live in this template literal.
 */
export const DASHBOARD_JS = String.raw`(function () {
  'use strict';
  var TOKEN_KEY = 'agent-orchestrator.token';
  var MAX_FEED = 200, MAX_POINTS = 60, POLL_MS = 3000, PAGE_SIZE = 50, HISTORY = 600, LOG_LINES = 50;
  var COLORS = ['#0969da', '#1a7f37', '#cf222e', '#9a6700', '#8250df', '#bf3989', '#1b7c83', '#6e7781', '#953800', '#116329', '#4c2889', '#0550ae'];
  var STATUSES = ['active', 'paused', 'restarting', 'quarantined'];
  var S = {
    token: '', agents: [], metrics: {}, durations: {}, charted: {}, lastId: null, streamCtl: null, pollTimer: null,
    feedCount: 0, lastBeat: {}, viaEnvelopes: false, noticeTimer: null,
    page: { cursors: [null], index: 0, next: null, prefix: '', status: '' },
    open: null, detail: {}, noSummary: false
  };

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'className') e.className = attrs[k];
      else if (k === 'disabled') e.disabled = !!attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  // kind: 'error' (stays until replaced), 'ok' (fades after 5 s), anything else: information
  function notice(msg, kind) {
    var n = $('notice');
    if (S.noticeTimer) { clearTimeout(S.noticeTimer); S.noticeTimer = null; }
    if (!msg) { n.hidden = true; n.textContent = ''; return; }
    n.hidden = false; n.textContent = msg; n.className = kind === 'error' || kind === true ? 'error' : (kind === 'ok' ? 'ok' : 'info');
    if (kind === 'ok') S.noticeTimer = setTimeout(function () { notice(''); }, 5000);
  }
  function fmtTime(iso) {
    if (!iso) return '\u2014';
    var d = new Date(iso); if (isNaN(d.getTime())) return String(iso);
    var ago = Math.round((Date.now() - d.getTime()) / 1000);
    var rel = ago >= 0 ? (ago < 90 ? ago + 's ago' : Math.round(ago / 60) + 'm ago') : ('in ' + (-ago < 90 ? -ago + 's' : Math.round(-ago / 60) + 'm'));
    return d.toLocaleTimeString() + ' (' + rel + ')';
  }
  function fmtMs(ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return '?';
    return ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  }
  function firstLine(s) { s = String(s == null ? '' : s); var i = s.indexOf('\n'); return i < 0 ? s : s.slice(0, i); }
  function short(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + '\u2026' : s; }
  // a colour per agent name, the same on every load (FNV-1a of the name)
  function colorOf(name) {
    var h = 2166136261;
    for (var i = 0; i < name.length; i++) { h ^= name.charCodeAt(i); h = Math.imul(h, 16777619); }
    return COLORS[(h >>> 0) % COLORS.length];
  }

  function api(method, path, body) {
    var headers = { 'accept': 'application/json' };
    if (S.token) headers['authorization'] = 'Bearer ' + S.token;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
      .then(function (res) {
        return res.text().then(function (t) {
          var data = null;
          try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
          if (res.status === 401) { needToken(); }
          if (!res.ok) {
            var msg = data && data.error ? data.error.code + ': ' + data.error.message : ('HTTP ' + res.status);
            var err = new Error(msg); err.status = res.status; err.code = data && data.error ? data.error.code : null; throw err;
          }
          return data;
        });
      });
  }
  function needToken() {
    notice(S.token ? 'The API rejected the token; enter a valid one above.' : 'Enter the API token above (local mode prints where it is).', 'error');
    stopStream();
  }

  // ---------------------------------------------------------------- summary
  function renderSummary(d) {
    var box = $('summary'); box.textContent = '';
    if (!d) return;
    var counts = d.byStatus || {};
    function chip(label, value, cls) {
      box.appendChild(el('span', { className: 'chip' + (cls ? ' ' + cls : ''), 'data-summary': label }, [el('b', { text: String(value) }), document.createTextNode(' ' + label)]));
    }
    if (typeof d.total === 'number') chip('agents', d.total);
    STATUSES.forEach(function (st) { if (typeof counts[st] === 'number') chip(st, counts[st]); });
    if (typeof d.erroring === 'number') chip('erroring', d.erroring, d.erroring ? 'bad' : '');
    var o = d.oldestHeartbeat;
    if (o && o.agent) {
      var late = o.stuckAt && new Date(o.stuckAt).getTime() < Date.now();
      box.appendChild(el('span', { className: 'chip' + (late ? ' late' : ''), 'data-summary': 'next heartbeat due',
        title: 'the agent whose next heartbeat is due first; stuck after ' + fmtTime(o.stuckAt),
        text: 'next heartbeat due: ' + o.agent + ' (last ' + fmtTime(o.lastHeartbeat) + ')' }));
    }
  }
  function refreshSummary() {
    if (!S.token || S.noSummary) return Promise.resolve();
    return api('GET', '/agents/summary').then(renderSummary).catch(function (e) {
      // an API without the summary route: no summary line, no error
      if (e.status === 404 && e.code !== 'agent_not_found') S.noSummary = true;
    });
  }

  // ---------------------------------------------------------------- agents
  var ACTIONS = [
    { action: 'pause', label: 'Pause', ok: function (a) { return a.status === 'active' || a.status === 'restarting'; } },
    { action: 'resume', label: 'Resume', ok: function (a) { return a.status === 'paused'; } },
    { action: 'trigger', label: 'Trigger', ok: function (a) { return a.status !== 'quarantined'; } },
    { action: 'restart', label: 'Restart', ok: function (a) { return a.status !== 'quarantined'; } },
    { action: 'quarantine', label: 'Quarantine', ok: function (a) { return a.status !== 'quarantined'; } },
    { action: 'release', label: 'Release', ok: function (a) { return a.status === 'quarantined'; } }
  ];
  function detailRow(a) {
    var d = S.detail[a.name];
    var cell = el('td', { colspan: '11' });
    if (!d) { cell.textContent = 'loading\u2026'; return el('tr', { className: 'detail', 'data-detail': a.name }, [cell]); }
    if (d.error) { cell.textContent = d.error; return el('tr', { className: 'detail', 'data-detail': a.name }, [cell]); }
    var v = d.view || {};
    var dl = el('dl', { className: 'detail-grid' });
    function row(k, val) { if (val === undefined || val === null || val === '') return; dl.appendChild(el('dt', { text: k })); dl.appendChild(el('dd', { text: String(val) })); }
    row('status', v.status + (v.statusReason ? ' \u2014 ' + v.statusReason : '') + (v.statusChangedAt ? ' (since ' + fmtTime(v.statusChangedAt) + ')' : ''));
    row('last outcome', v.lastOutcome ? v.lastOutcome + (typeof v.lastDurationMs === 'number' ? ' in ' + fmtMs(v.lastDurationMs) : '') : null);
    row('cycle / timeout', v.cycleSeconds + ' s / ' + v.timeoutSeconds + ' s');
    row('runtime', v.runtime);
    row('subscriptions', (v.subscriptions || []).join(', '));
    row('signer', v.signer);
    var children = [dl];
    var f = v.lastFailure;
    if (f) {
      var what = f.current ? 'Current error' : 'Last error (no longer current: a cycle succeeded or a new version was registered since)';
      children.push(el('div', { text: what + (f.version ? ', version ' + f.version : '') + (f.at ? ', ' + fmtTime(f.at) : '') + ':' }));
      children.push(el('pre', { className: 'stack' + (f.current ? '' : ' stale'), 'data-role': 'stack', text: f.stack || f.error }));
    }
    if (d.logs) {
      children.push(el('div', { text: 'Recent log lines (' + d.logs.length + '):' }));
      children.push(el('pre', { className: 'logs', 'data-role': 'logs', text: d.logs.length ? d.logs.map(function (l) {
        return new Date(l.ts).toLocaleTimeString() + ' ' + l.level + ' ' + l.msg + (l.fields ? ' ' + JSON.stringify(l.fields) : '') + '  (' + l.kind + ' ' + l.cycle + ', ' + l.version + ')';
      }).join('\n') : 'no log lines kept for this agent' }));
    }
    cell.appendChild(el('div', {}, children));
    return el('tr', { className: 'detail', 'data-detail': a.name }, [cell]);
  }
  function loadDetail(name) {
    return Promise.all([
      api('GET', '/agents/' + encodeURIComponent(name)),
      api('GET', '/agents/' + encodeURIComponent(name) + '/logs?limit=' + LOG_LINES).then(function (d) {
        return (d && d.lines) || [];
      }, function () { return null; })
    ]).then(function (r) {
      S.detail[name] = { view: r[0], logs: r[1] };
    }, function (e) { S.detail[name] = { error: 'GET /agents/' + name + ' failed: ' + e.message }; }).then(renderAgents);
  }
  function renderAgents() {
    var tbody = $('agents').tBodies[0];
    tbody.textContent = '';
    if (!S.agents.length) {
      var filtered = S.page.prefix || S.page.status;
      tbody.appendChild(el('tr', { className: 'empty' }, [el('td', { colspan: '11', text: filtered ? 'no agents match the filter' : 'no agents registered' })]));
      return;
    }
    S.agents.forEach(function (a) {
      var m = S.metrics[a.name] || {};
      var buttons = ACTIONS.map(function (x) {
        return el('button', { type: 'button', 'data-action': x.action, 'data-agent': a.name, text: x.label, disabled: !x.ok(a) });
      });
      tbody.appendChild(el('tr', { 'data-agent': a.name }, [
        el('td', { className: 'name' }, [el('button', { type: 'button', className: 'link', 'data-open': a.name, 'aria-expanded': String(S.open === a.name), text: a.name })]),
        el('td', { text: a.version }),
        el('td', {}, [el('span', { className: 'status status-' + a.status, 'data-role': 'status', text: a.status })]),
        el('td', { text: fmtTime(a.lastHeartbeat), 'data-role': 'heartbeat' }),
        el('td', { text: fmtTime(a.nextRunAt) }),
        el('td', { className: 'num', text: m.cycles === undefined ? '\u2014' : String(m.cycles) }),
        el('td', { className: 'num', text: m.failures === undefined ? '\u2014' : String(m.failures) }),
        el('td', { className: 'num', text: String(a.consecutiveErrors) }),
        el('td', { className: 'num', text: String(a.restarts) }),
        el('td', { className: 'err', 'data-role': 'error', text: a.lastError ? firstLine(a.lastError) : '', title: a.lastError || '' }),
        el('td', { className: 'actions' }, buttons)
      ]));
      if (S.open === a.name) tbody.appendChild(detailRow(a));
    });
  }
  function updatePager() {
    var p = S.page;
    $('page-prev').disabled = p.index === 0;
    $('page-next').disabled = !p.next;
    var from = p.index * PAGE_SIZE + (S.agents.length ? 1 : 0), to = p.index * PAGE_SIZE + S.agents.length;
    $('page-info').textContent = S.agents.length ? 'page ' + (p.index + 1) + ' (' + from + '\u2013' + to + ')' : '';
  }
  function agentsPath() {
    var p = S.page, q = ['limit=' + PAGE_SIZE], c = p.cursors[p.index];
    if (c) q.push('cursor=' + encodeURIComponent(c));
    if (p.prefix) q.push('prefix=' + encodeURIComponent(p.prefix));
    if (p.status) q.push('status=' + encodeURIComponent(p.status));
    return '/agents?' + q.join('&');
  }
  function refreshAgents() {
    if (!S.token) return Promise.resolve();
    var path = agentsPath();
    return api('GET', path).then(function (d) {
      if (path !== agentsPath()) return; // the filter or page changed meanwhile
      S.agents = d.agents || [];
      S.page.next = d.cursor || null;
      renderAgents(); updatePager();
      $('agents-updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      if (S.open && S.agents.some(function (a) { return a.name === S.open; })) loadDetail(S.open);
    }).catch(function (e) {
      if (e.status === 400) notice('Filter: ' + e.message, 'error');
      else if (e.status !== 401) notice('GET /agents failed: ' + e.message, 'error');
    });
  }
  function refreshAll() { refreshAgents(); refreshSummary(); }
  function resetPaging() { S.page.cursors = [null]; S.page.index = 0; S.page.next = null; }
  $('agents').addEventListener('click', function (ev) {
    var open = ev.target.closest ? ev.target.closest('button[data-open]') : null;
    if (open) {
      var n = open.getAttribute('data-open');
      S.open = S.open === n ? null : n;
      renderAgents();
      if (S.open) loadDetail(S.open);
      return;
    }
    var b = ev.target.closest ? ev.target.closest('button[data-action]') : null;
    if (!b) return;
    var name = b.getAttribute('data-agent'), action = b.getAttribute('data-action');
    b.disabled = true;
    api('POST', '/agents/' + encodeURIComponent(name) + '/' + action, {})
      .then(function (v) {
        var extra = action === 'release' ? ' (next run ' + fmtTime(v && v.nextRunAt) + ')' : '';
        notice(action + ' ' + name + ': done' + extra, 'ok');
      })
      .catch(function (e) { notice(action + ' ' + name + ' failed: ' + e.message, 'error'); })
      .then(refreshAll);
  });
  var filterTimer = null;
  function onFilter() {
    if (filterTimer) clearTimeout(filterTimer);
    filterTimer = setTimeout(function () {
      S.page.prefix = $('agent-search').value.trim().toLowerCase();
      S.page.status = $('agent-status').value;
      resetPaging(); refreshAgents();
    }, 200);
  }
  $('agent-search').addEventListener('input', onFilter);
  $('agent-status').addEventListener('change', onFilter);
  $('agent-filter').addEventListener('submit', function (ev) { ev.preventDefault(); onFilter(); });
  $('page-next').addEventListener('click', function () {
    if (!S.page.next) return;
    S.page.cursors = S.page.cursors.slice(0, S.page.index + 1).concat([S.page.next]);
    S.page.index++; refreshAgents();
  });
  $('page-prev').addEventListener('click', function () {
    if (S.page.index === 0) return;
    S.page.index--; refreshAgents();
  });

  // ---------------------------------------------------------------- components
  function refreshComponents() {
    if (!S.token) return Promise.resolve();
    return api('GET', '/components').then(function (d) {
      var ul = $('components'); ul.textContent = '';
      (d.components || []).forEach(function (c) {
        ul.appendChild(el('li', { 'data-component': c.name }, [
          el('span', { text: c.name }),
          el('span', { className: c.running ? 'state-on' : 'state-off', text: c.running ? 'running' : 'stopped' }),
          el('button', { type: 'button', 'data-component': c.name, 'data-to': c.running ? 'stop' : 'start', text: c.running ? 'Stop' : 'Start' })
        ]));
      });
    }).catch(function (e) { if (e.status !== 401) notice('GET /components failed: ' + e.message, 'error'); });
  }
  $('components').addEventListener('click', function (ev) {
    var b = ev.target.closest ? ev.target.closest('button[data-component]') : null;
    if (!b) return;
    b.disabled = true;
    api('POST', '/components/' + b.getAttribute('data-component') + '/' + b.getAttribute('data-to'), {})
      .catch(function (e) { notice('component switch failed: ' + e.message, 'error'); })
      .then(refreshComponents);
  });

  // ---------------------------------------------------------------- chart
  function addPoint(name, ms, outcome, seq) {
    if (typeof ms !== 'number' || !isFinite(ms) || ms < 0) return false;
    if (seq !== undefined) { if (S.charted[seq]) return false; S.charted[seq] = 1; }
    var list = S.durations[name] || (S.durations[name] = []);
    list.push({ ms: ms, failed: outcome !== undefined && outcome !== 'ok', seq: seq });
    if (seq !== undefined) list.sort(function (a, b) { return (a.seq === undefined ? Infinity : a.seq) - (b.seq === undefined ? Infinity : b.seq); });
    while (list.length > MAX_POINTS) { var gone = list.shift(); if (gone.seq !== undefined) delete S.charted[gone.seq]; }
    return true;
  }
  // log scale: a 1 s timeout does not flatten the 5 ms cycles of every other agent to zero
  function drawChart() {
    var c = $('chart'), ctx = c.getContext('2d');
    var W = c.width, H = c.height, L = 48, R = 8, T = 10, B = 22;
    ctx.clearRect(0, 0, W, H);
    var names = Object.keys(S.durations).filter(function (n) { return S.durations[n].length; }).sort();
    var max = 1;
    names.forEach(function (n) { S.durations[n].forEach(function (p) { if (p.ms > max) max = p.ms; }); });
    var decades = Math.max(1, Math.ceil(Math.log(max) / Math.LN10 - 1e-9));
    function yOf(ms) { return T + (H - T - B) * (1 - Math.log(Math.max(ms, 1)) / Math.LN10 / decades); }
    ctx.strokeStyle = '#dedee3'; ctx.fillStyle = '#6b6b75'; ctx.font = '11px system-ui, sans-serif'; ctx.lineWidth = 1;
    for (var g = 0; g <= decades; g++) {
      var y = yOf(Math.pow(10, g)), v = Math.pow(10, g);
      ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(W - R, y); ctx.stroke();
      ctx.fillText(v >= 1000 ? (v / 1000) + ' s' : v + ' ms', 4, y + 4);
    }
    ctx.fillText('older \u2190 cycles \u2192 newer', L, H - 6);
    function xOf(k, n) { return L + (W - L - R) * ((k + MAX_POINTS - n) / (MAX_POINTS - 1)); }
    names.forEach(function (n) {
      var pts = S.durations[n], col = colorOf(n);
      ctx.strokeStyle = col; ctx.fillStyle = col; ctx.lineWidth = 1.5; ctx.beginPath();
      pts.forEach(function (p, k) {
        var x = xOf(k, pts.length), y = yOf(p.ms);
        if (k === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
      if (pts.length === 1) { ctx.fillRect(xOf(0, 1) - 2, yOf(pts[0].ms) - 2, 4, 4); }
      pts.forEach(function (p, k) {
        if (!p.failed) return;
        ctx.fillStyle = '#cf222e'; ctx.fillRect(xOf(k, pts.length) - 2, yOf(p.ms) - 2, 4, 4);
      });
    });
    var legend = $('legend'); legend.textContent = '';
    names.forEach(function (n) { var s = el('span', { text: n, 'data-color': colorOf(n) }); s.style.setProperty('--c', colorOf(n)); legend.appendChild(s); });
  }
  function runPoint(entry) {
    var p = entry.payload || {};
    if (entry.sender !== 'orchestrator' || (entry.topic !== 'agent.cycle' && entry.topic !== 'agent.failed') || typeof p.durationMs !== 'number') return false;
    var agent = typeof p.name === 'string' ? p.name : (typeof p.agent === 'string' ? p.agent : entry.sender);
    return addPoint(agent, p.durationMs, p.outcome || (entry.topic === 'agent.failed' ? 'error' : 'ok'), entry.seq);
  }
  // the chart starts from the ledger's recent cycles, not empty after every reload
  function loadHistory() {
    if (!S.token) return Promise.resolve();
    return api('GET', '/ledger?limit=1').then(function (d) {
      var head = d && typeof d.head === 'number' ? d.head : 0;
      if (!head) return;
      var after = Math.max(0, head - HISTORY);
      return Promise.all(['agent.cycle', 'agent.failed'].map(function (t) {
        return api('GET', '/ledger?after=' + after + '&limit=' + HISTORY + '&topic=' + encodeURIComponent(t)).then(function (r) { return (r && r.entries) || []; });
      })).then(function (lists) {
        var any = false;
        lists[0].concat(lists[1]).sort(function (a, b) { return a.seq - b.seq; }).forEach(function (e) { if (runPoint(e)) any = true; });
        if (any) { S.viaEnvelopes = true; drawChart(); }
      });
    }).catch(function (e) { if (e.status !== 401) notice('loading recent cycles failed: ' + e.message, 'error'); });
  }

  // ---------------------------------------------------------------- event stream
  function describe(entry) {
    var p = entry.payload || {};
    if (entry.sender !== 'orchestrator') {
      var keys = Object.keys(p);
      var kv = keys.slice(0, 4).map(function (k) { return k + '=' + short(JSON.stringify(p[k]), 40); }).join(' ');
      return kv + (keys.length > 4 ? ' \u2026' : '');
    }
    var n = p.name || p.agent || '';
    switch (entry.topic) {
      case 'agent.cycle': return n + ' ' + (p.kind && p.kind !== 'cycle' ? p.kind + ' ' : 'cycle ') + p.outcome + ' in ' + fmtMs(p.durationMs) + (p.published ? ', published ' + p.published : '');
      case 'agent.failed': return n + ' ' + p.outcome + (p.error ? ': ' + short(firstLine(p.error), 160) : '') + ' (' + p.consecutiveErrors + ' in a row)';
      case 'agent.registered': return n + ' ' + p.version + ' registered' + (p.previousVersion ? ' (was ' + p.previousVersion + ')' : '');
      case 'agent.deregistered': return n + ' ' + p.version + ' deregistered';
      case 'agent.paused': return n + ' paused by ' + p.by;
      case 'agent.resumed': return n + ' resumed by ' + p.by;
      case 'agent.triggered': return n + ' triggered by ' + p.by;
      case 'agent.restarted': return n + ' restarted by ' + p.by + ': ' + p.reason + (p.backoffMs ? ' (next run in ' + fmtMs(p.backoffMs) + ')' : '');
      case 'agent.quarantined': return n + ' quarantined by ' + p.by + ': ' + p.reason;
      case 'agent.released': return n + ' released by ' + p.by;
      case 'bundle.rejected': return p.key + ' rejected (' + p.reason + '): ' + short(firstLine(p.message), 160);
      case 'bundle.unverified': return p.key + ' loaded unverified: ' + short(firstLine(p.message), 160);
      default: return short(JSON.stringify(p), 160);
    }
  }
  function addFeed(entry) {
    var ol = $('feed');
    var cls = 'topic t-' + String(entry.topic).replace(/[^a-z0-9]+/gi, '-');
    var head = el('summary', {}, [
      el('span', { className: 'seq', text: '#' + entry.seq + ' ' + new Date(entry.ts).toLocaleTimeString() + ' ' }),
      el('span', { className: cls, text: entry.topic }),
      el('span', { className: 'who', text: ' ' + entry.sender + (entry.recipient ? ' \u2192 ' + entry.recipient : '') + (entry.replayOf !== undefined ? ' (replay of #' + entry.replayOf + ')' : '') + ' ' }),
      el('span', { className: 'what', text: describe(entry) })
    ]);
    var li = el('li', { 'data-seq': String(entry.seq) }, [el('details', {}, [head, el('pre', { text: JSON.stringify(entry.payload, null, 2) })])]);
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > MAX_FEED) ol.removeChild(ol.lastChild);
    S.feedCount++;
    $('feed-count').textContent = '(' + S.feedCount + ' received)';
  }
  var refreshSoon = null;
  function onEnvelope(entry) {
    addFeed(entry);
    // only the orchestrator's own events feed the charts and refreshes (a look-alike is just listed)
    if (entry.sender !== 'orchestrator') return;
    if (runPoint(entry)) { S.viaEnvelopes = true; drawChart(); }
    if (/^(agent|bundle)\./.test(entry.topic) && entry.topic !== 'agent.cycle') {
      if (refreshSoon) clearTimeout(refreshSoon);
      refreshSoon = setTimeout(function () { refreshSoon = null; refreshAll(); }, 150);
    }
  }
  function onMetrics(m) {
    var drew = false;
    (m.agents || []).forEach(function (a) {
      S.metrics[a.name] = a;
      // without duration in the cycle events, sample the last duration from each new heartbeat
      if (!S.viaEnvelopes && a.lastHeartbeat && a.lastHeartbeat !== S.lastBeat[a.name]) {
        S.lastBeat[a.name] = a.lastHeartbeat;
        if (addPoint(a.name, a.lastDurationMs, a.lastOutcome || undefined)) drew = true;
      }
    });
    if (drew) drawChart();
    renderAgents();
  }
  function setConn(on, text) { var c = $('conn'); c.className = 'conn ' + (on ? 'on' : 'off'); c.textContent = 'stream: ' + text; }
  function stopStream() { if (S.streamCtl) { S.streamCtl.abort(); S.streamCtl = null; } setConn(false, 'off'); }
  function startStream() {
    stopStream();
    if (!S.token || !window.ReadableStream) return;
    var ctl = new AbortController(); S.streamCtl = ctl;
    var headers = { 'authorization': 'Bearer ' + S.token, 'accept': 'text/event-stream' };
    if (S.lastId !== null) headers['last-event-id'] = String(S.lastId);
    var retry = 2000;
    fetch('/events/stream', { headers: headers, signal: ctl.signal, cache: 'no-store' }).then(function (res) {
      if (res.status === 401) { needToken(); throw new Error('unauthorized'); }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      setConn(true, 'live');
      var reader = res.body.getReader(), dec = new TextDecoder(), buf = '';
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) return;
          buf += dec.decode(r.value, { stream: true }).replace(/\r\n?/g, '\n');
          var idx;
          while ((idx = buf.indexOf('\n\n')) >= 0) {
            var block = buf.slice(0, idx); buf = buf.slice(idx + 2);
            var ev = { event: 'message', data: [], id: null };
            block.split('\n').forEach(function (line) {
              if (!line || line.charAt(0) === ':') return;
              var c = line.indexOf(':'), f = c < 0 ? line : line.slice(0, c), v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (f === 'event') ev.event = v; else if (f === 'data') ev.data.push(v); else if (f === 'id') ev.id = v; else if (f === 'retry' && /^\d+$/.test(v)) retry = Number(v);
            });
            if (ev.id !== null && /^\d+$/.test(ev.id)) S.lastId = Number(ev.id);
            if (!ev.data.length) continue;
            var data; try { data = JSON.parse(ev.data.join('\n')); } catch (e) { continue; }
            if (ev.event === 'envelope') onEnvelope(data); else if (ev.event === 'metrics') onMetrics(data);
          }
          return pump();
        });
      }
      return pump();
    }).catch(function (e) { if (ctl.signal.aborted) return; setConn(false, 'reconnecting'); }).then(function () {
      if (ctl.signal.aborted || S.streamCtl !== ctl) return;
      setConn(false, 'reconnecting');
      setTimeout(function () { if (S.streamCtl === ctl) startStream(); }, retry);
    });
  }

  // ---------------------------------------------------------------- boot
  function boot() {
    notice('');
    if (S.pollTimer) clearInterval(S.pollTimer);
    if (!S.token) { needToken(); return; }
    S.noSummary = false;
    refreshAll(); refreshComponents();
    loadHistory().then(startStream);
    S.pollTimer = setInterval(function () { refreshAll(); refreshComponents(); }, POLL_MS);
  }
  $('token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    S.token = $('token').value.trim();
    try { localStorage.setItem(TOKEN_KEY, S.token); } catch (e) { /* private mode */ }
    $('token').value = '';
    $('token').placeholder = S.token ? 'token saved' : 'Bearer token';
    boot();
  });
  $('token-clear').addEventListener('click', function () {
    S.token = ''; try { localStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
    $('token').placeholder = 'Bearer token';
    if (S.pollTimer) clearInterval(S.pollTimer);
    stopStream(); needToken();
  });
  try { S.token = localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { S.token = ''; }
  if (S.token) $('token').placeholder = 'token saved';
  drawChart();
  boot();
})();
`;
