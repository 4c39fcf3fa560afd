/** The dashboard page (served at `/` without auth; the page asks for the token). */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Agent orchestrator</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/app.css">
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<header>
  <h1>Agent orchestrator</h1>
  <form id="token-form" autocomplete="off">
    <label for="token">API token</label>
    <input id="token" name="token" type="password" placeholder="Bearer token" spellcheck="false">
    <button type="submit">Save</button>
    <button type="button" id="token-clear">Forget</button>
  </form>
  <span id="conn" class="conn off" title="event stream">stream: off</span>
</header>
<div id="notice" role="status" hidden></div>
<main>
  <section id="agents-section">
    <div class="section-head">
      <h2>Agents <small id="agents-updated"></small></h2>
      <div id="summary" aria-label="fleet summary"></div>
    </div>
    <form id="agent-filter" class="toolbar" autocomplete="off">
      <input id="agent-search" type="search" placeholder="name starts with…" spellcheck="false" aria-label="filter agents by name prefix">
      <select id="agent-status" aria-label="filter agents by status">
        <option value="">all statuses</option><option value="active">active</option><option value="paused">paused</option>
        <option value="restarting">restarting</option><option value="quarantined">quarantined</option>
      </select>
      <span class="pager">
        <button type="button" id="page-prev" disabled>‹ Prev</button>
        <span id="page-info"></span>
        <button type="button" id="page-next" disabled>Next ›</button>
      </span>
    </form>
    <div class="table-wrap">
    <table id="agents">
      <thead><tr>
        <th>Agent</th><th>Version</th><th>Status</th><th>Last heartbeat</th><th>Next run</th>
        <th title="cycles run">Cycles</th><th title="failed runs">Failures</th><th title="consecutive errors">Consec.</th><th>Restarts</th><th>Last error</th><th>Actions</th>
      </tr></thead>
      <tbody><tr class="empty"><td colspan="11">no data yet</td></tr></tbody>
    </table>
    </div>
  </section>
  <section id="chart-section">
    <h2>Cycle duration <small>(ms, log scale, last 60 cycles per agent)</small></h2>
    <canvas id="chart" width="900" height="260" aria-label="cycle duration chart"></canvas>
    <div id="legend"></div>
  </section>
  <section id="components-section">
    <h2>Components</h2>
    <ul id="components"></ul>
  </section>
  <section id="feed-section">
    <h2>Live events <small id="feed-count"></small></h2>
    <ol id="feed"></ol>
  </section>
</main>
</body>
</html>
`;
