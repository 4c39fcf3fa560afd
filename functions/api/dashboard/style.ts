/** Dashboard stylesheet (`/dashboard/app.css`). */
export const DASHBOARD_CSS = `
:root { --bg:#f7f7f8; --fg:#1d1d1f; --muted:#6b6b75; --line:#dedee3; --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; --info:#0969da; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; flex-wrap:wrap; gap:12px; align-items:center; padding:10px 16px; background:#fff; border-bottom:1px solid var(--line); }
h1 { font-size:18px; margin:0 16px 0 0; }
h2 { font-size:15px; margin:0 0 8px; }
h2 small { color:var(--muted); font-weight:normal; }
form { display:flex; gap:6px; align-items:center; }
input { font:inherit; padding:4px 6px; border:1px solid var(--line); border-radius:4px; width:260px; }
button { font:inherit; padding:3px 9px; border:1px solid var(--line); border-radius:4px; background:#fff; cursor:pointer; }
button:hover:not(:disabled) { border-color:var(--info); }
button:disabled { opacity:.4; cursor:default; }
main { display:grid; grid-template-columns: minmax(0,2fr) minmax(0,1fr); gap:16px; padding:16px; }
section { background:#fff; border:1px solid var(--line); border-radius:6px; padding:12px; min-width:0; }
#agents-section, #chart-section { grid-column: 1 / 2; }
#agents-section { overflow-x:auto; }
#components-section, #feed-section { grid-column: 2 / 3; }
#components-section { grid-row: 1 / 2; }
#feed-section { grid-row: 2 / 3; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:5px 6px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:12px; }
td.num { text-align:right; font-variant-numeric: tabular-nums; }
td.err { color:var(--bad); max-width:220px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
td.actions { min-width:190px; }
td.actions button { margin:0 3px 3px 0; padding:2px 6px; font-size:12px; }
tr.empty td { color:var(--muted); }
.status { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; }
.status-active { background:var(--ok); }
.status-paused { background:var(--muted); }
.status-restarting { background:var(--warn); }
.status-quarantined { background:var(--bad); }
.conn { font-size:12px; padding:2px 8px; border-radius:10px; border:1px solid var(--line); }
.conn.on { color:var(--ok); border-color:var(--ok); }
.conn.off { color:var(--muted); }
#notice { margin:8px 16px 0; padding:6px 10px; border-radius:4px; background:#fff8c5; border:1px solid #d4a72c; }
#notice.error { background:#ffebe9; border-color:var(--bad); }
#components { list-style:none; margin:0; padding:0; }
#components li { display:flex; justify-content:space-between; align-items:center; padding:4px 0; border-bottom:1px solid var(--line); }
#components .state-on { color:var(--ok); font-weight:600; }
#components .state-off { color:var(--bad); font-weight:600; }
#feed { list-style:none; margin:0; padding:0; max-height:520px; overflow:auto; font:12px/1.35 ui-monospace, SFMono-Regular, Menlo, monospace; }
#feed li { padding:3px 0; border-bottom:1px solid var(--line); overflow-wrap:anywhere; }
#feed .seq { color:var(--muted); }
#feed .topic { font-weight:700; }
#feed .t-agent-failed, #feed .t-agent-quarantined, #feed .t-bundle-rejected { color:var(--bad); }
#feed .t-agent-restarted { color:var(--warn); }
canvas { width:100%; height:auto; border:1px solid var(--line); border-radius:4px; }
#legend { display:flex; flex-wrap:wrap; gap:10px; margin-top:6px; font-size:12px; }
#legend span::before { content:""; display:inline-block; width:10px; height:10px; margin-right:4px; background:var(--c); border-radius:2px; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } #components-section, #feed-section, #agents-section, #chart-section { grid-column:auto; grid-row:auto; } }
`;
