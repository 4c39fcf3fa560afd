/**
 * Dashboard script (`/dashboard/app.js`): plain browser JavaScript, no framework, no build step.
 * Reads `/agents` and `/components` (polling), tails `/events/stream` with fetch (so it can send
 * the Authorization header, which EventSource cannot) and resumes with Last-Event-ID, draws the
 * cycle-duration chart on a canvas. The token is kept in localStorage.
 * Kept free of backticks and dollar-brace so it can live in this template literal.
 */
export const DASHBOARD_JS = String.raw`(function () {
  'use strict';
  var TOKEN_KEY = 'agent-orchestrator.token';
  var MAX_FEED = 200, MAX_POINTS = 60, POLL_MS = 3000;
  var COLORS = ['#0969da', '#1a7f37', '#cf222e', '#9a6700', '#8250df', '#bf3989', '#1b7c83', '#6e7781', '#953800', '#116329'];
  var S = { token: '', agents: [], metrics: {}, durations: {}, colors: {}, lastId: null, streamCtl: null, pollTimer: null, feedCount: 0, lastBeat: {} };

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
  function notice(msg, isError) {
    var n = $('notice');
    if (!msg) { n.hidden = true; n.textContent = ''; return; }
    n.hidden = false; n.textContent = msg; n.className = isError ? 'error' : '';
  }
  function fmtTime(iso) {
    if (!iso) return '\u2014';
    var d = new Date(iso); if (isNaN(d.getTime())) return String(iso);
    var ago = Math.round((Date.now() - d.getTime()) / 1000);
    var rel = ago >= 0 ? (ago < 90 ? ago + 's ago' : Math.round(ago / 60) + 'm ago') : ('in ' + (-ago < 90 ? -ago + 's' : Math.round(-ago / 60) + 'm'));
    return d.toLocaleTimeString() + ' (' + rel + ')';
  }
  function colorOf(name) {
    if (!S.colors[name]) S.colors[name] = COLORS[Object.keys(S.colors).length % COLORS.length];
    return S.colors[name];
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
            var err = new Error(msg); err.status = res.status; throw err;
          }
          return data;
        });
      });
  }
  function needToken() {
    notice(S.token ? 'The API rejected the token; enter a valid one above.' : 'Enter the API token above (local mode prints where it is).', true);
    stopStream();
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
  function renderAgents() {
    var tbody = $('agents').tBodies[0];
    tbody.textContent = '';
    if (!S.agents.length) { tbody.appendChild(el('tr', { className: 'empty' }, [el('td', { colspan: '11', text: 'no agents registered' })])); return; }
    S.agents.forEach(function (a) {
      var m = S.metrics[a.name] || {};
      var buttons = ACTIONS.map(function (x) {
        return el('button', { type: 'button', 'data-action': x.action, 'data-agent': a.name, text: x.label, disabled: !x.ok(a) });
      });
      tbody.appendChild(el('tr', { 'data-agent': a.name }, [
        el('td', { text: a.name }),
        el('td', { text: a.version }),
        el('td', {}, [el('span', { className: 'status status-' + a.status, 'data-role': 'status', text: a.status })]),
        el('td', { text: fmtTime(a.lastHeartbeat), 'data-role': 'heartbeat' }),
        el('td', { text: fmtTime(a.nextRunAt) }),
        el('td', { className: 'num', text: m.cycles === undefined ? '\u2014' : String(m.cycles) }),
        el('td', { className: 'num', text: m.failures === undefined ? '\u2014' : String(m.failures) }),
        el('td', { className: 'num', text: String(a.consecutiveErrors) }),
        el('td', { className: 'num', text: String(a.restarts) }),
        el('td', { className: 'err', text: a.lastError || '', title: a.lastError || '' }),
        el('td', { className: 'actions' }, buttons)
      ]));
    });
  }
  function refreshAgents() {
    if (!S.token) return Promise.resolve();
    return api('GET', '/agents').then(function (d) {
      S.agents = d.agents || [];
      S.agents.forEach(function (a) { colorOf(a.name); });
      renderAgents();
      $('agents-updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    }).catch(function (e) { if (e.status !== 401) notice('GET /agents failed: ' + e.message, true); });
  }
  $('agents').addEventListener('click', function (ev) {
    var b = ev.target.closest ? ev.target.closest('button[data-action]') : null;
    if (!b) return;
    var name = b.getAttribute('data-agent'), action = b.getAttribute('data-action');
    b.disabled = true;
    api('POST', '/agents/' + encodeURIComponent(name) + '/' + action, {})
      .then(function () { notice(action + ' ' + name + ': ok'); })
      .catch(function (e) { notice(action + ' ' + name + ' failed: ' + e.message, true); })
      .then(refreshAgents);
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
    }).catch(function (e) { if (e.status !== 401) notice('GET /components failed: ' + e.message, true); });
  }
  $('components').addEventListener('click', function (ev) {
    var b = ev.target.closest ? ev.target.closest('button[data-component]') : null;
    if (!b) return;
    b.disabled = true;
    api('POST', '/components/' + b.getAttribute('data-component') + '/' + b.getAttribute('data-to'), {})
      .catch(function (e) { notice('component switch failed: ' + e.message, true); })
      .then(refreshComponents);
  });

  // ---------------------------------------------------------------- chart
  function addPoint(name, ms, outcome) {
    if (typeof ms !== 'number' || !isFinite(ms) || ms < 0) return;
    var list = S.durations[name] || (S.durations[name] = []);
    list.push({ ms: ms, failed: outcome !== undefined && outcome !== 'ok' });
    if (list.length > MAX_POINTS) list.shift();
    drawChart();
  }
  function drawChart() {
    var c = $('chart'), ctx = c.getContext('2d');
    var W = c.width, H = c.height, L = 48, R = 8, T = 10, B = 22;
    ctx.clearRect(0, 0, W, H);
    var names = Object.keys(S.durations).filter(function (n) { return S.durations[n].length; });
    var max = 1;
    names.forEach(function (n) { S.durations[n].forEach(function (p) { if (p.ms > max) max = p.ms; }); });
    var nice = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 60000, 300000, 900000];
    for (var i = 0; i < nice.length; i++) { if (nice[i] >= max) { max = nice[i]; break; } }
    ctx.strokeStyle = '#dedee3'; ctx.fillStyle = '#6b6b75'; ctx.font = '11px system-ui, sans-serif'; ctx.lineWidth = 1;
    for (var g = 0; g <= 4; g++) {
      var y = T + (H - T - B) * (1 - g / 4);
      ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(W - R, y); ctx.stroke();
      ctx.fillText(String(Number((max * g / 4).toPrecision(3))), 4, y + 4);
    }
    ctx.fillText('older \u2190 cycles \u2192 newer', L, H - 6);
    names.forEach(function (n) {
      var pts = S.durations[n], col = colorOf(n);
      ctx.strokeStyle = col; ctx.fillStyle = col; ctx.lineWidth = 1.5; ctx.beginPath();
      pts.forEach(function (p, k) {
        var x = L + (W - L - R) * (MAX_POINTS === 1 ? 0 : (k + MAX_POINTS - pts.length) / (MAX_POINTS - 1));
        var y = T + (H - T - B) * (1 - p.ms / max);
        if (k === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
      pts.forEach(function (p, k) {
        if (!p.failed) return;
        var x = L + (W - L - R) * ((k + MAX_POINTS - pts.length) / (MAX_POINTS - 1));
        var y = T + (H - T - B) * (1 - p.ms / max);
        ctx.fillStyle = '#cf222e'; ctx.fillRect(x - 2, y - 2, 4, 4);
      });
    });
    var legend = $('legend'); legend.textContent = '';
    names.forEach(function (n) { var s = el('span', { text: n }); s.style.setProperty('--c', colorOf(n)); legend.appendChild(s); });
  }

  // ---------------------------------------------------------------- event stream
  function addFeed(entry) {
    var ol = $('feed');
    var cls = 'topic t-' + String(entry.topic).replace(/[^a-z0-9]+/gi, '-');
    var summary = JSON.stringify(entry.payload);
    if (summary.length > 160) summary = summary.slice(0, 157) + '...';
    var li = el('li', { 'data-seq': String(entry.seq) }, [
      el('span', { className: 'seq', text: '#' + entry.seq + ' ' + new Date(entry.ts).toLocaleTimeString() + ' ' }),
      el('span', { className: cls, text: entry.topic }),
      el('span', { text: ' ' + entry.sender + (entry.recipient ? ' \u2192 ' + entry.recipient : '') + (entry.replayOf !== undefined ? ' (replay of #' + entry.replayOf + ')' : '') + ' ' }),
      el('span', { text: summary })
    ]);
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > MAX_FEED) ol.removeChild(ol.lastChild);
    S.feedCount++;
    $('feed-count').textContent = '(' + S.feedCount + ' received)';
  }
  var refreshSoon = null;
  function onEnvelope(entry) {
    addFeed(entry);
    var p = entry.payload || {};
    // only the orchestrator's own events feed the charts and refreshes (a look-alike is just listed)
    if (entry.sender !== 'orchestrator') return;
    if ((entry.topic === 'agent.cycle' || entry.topic === 'agent.failed') && typeof p.durationMs === 'number') {
      var agent = typeof p.name === 'string' ? p.name : (typeof p.agent === 'string' ? p.agent : entry.sender);
      S.viaEnvelopes = true;
      addPoint(agent, p.durationMs, p.outcome || (entry.topic === 'agent.failed' ? 'error' : 'ok'));
    }
    if (/^(agent|bundle)\./.test(entry.topic) && entry.topic !== 'agent.cycle') {
      if (refreshSoon) clearTimeout(refreshSoon);
      refreshSoon = setTimeout(function () { refreshSoon = null; refreshAgents(); }, 150);
    }
  }
  function onMetrics(m) {
    (m.agents || []).forEach(function (a) {
      S.metrics[a.name] = a;
      // without duration in the cycle events, sample the last duration from each new heartbeat
      if (!S.viaEnvelopes && a.lastHeartbeat && a.lastHeartbeat !== S.lastBeat[a.name]) {
        S.lastBeat[a.name] = a.lastHeartbeat;
        addPoint(a.name, a.lastDurationMs, a.lastOutcome || undefined);
      }
    });
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
    refreshAgents(); refreshComponents(); startStream();
    S.pollTimer = setInterval(function () { refreshAgents(); refreshComponents(); }, POLL_MS);
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
