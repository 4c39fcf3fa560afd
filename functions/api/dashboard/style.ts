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
.section-head { display:flex; flex-wrap:wrap; gap:12px; align-items:baseline; justify-content:space-between; }
#summary { display:flex; flex-wrap:wrap; gap:6px; font-size:12px; }
#summary .chip { padding:1px 8px; border-radius:10px; border:1px solid var(--line); white-space:nowrap; }
#summary .chip b { font-variant-numeric: tabular-nums; }
.toolbar { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin:4px 0 8px; }
.toolbar input { width:220px; }
select { font:inherit; padding:3px 6px; border:1px solid var(--line); border-radius:4px; background:#fff; }
.pager { display:flex; gap:6px; align-items:center; margin-left:auto; color:var(--muted); font-size:12px; }
.table-wrap { overflow-x:auto; }
section { background:#fff; border:1px solid var(--line); border-radius:6px; padding:12px; min-width:0; }
#agents-section { grid-column: 1 / -1; grid-row: 1 / 2; }
#chart-section { grid-column: 1 / 2; grid-row: 2 / 4; }
#components-section { grid-column: 2 / 3; grid-row: 2 / 3; }
#feed-section { grid-column: 2 / 3; grid-row: 3 / 4; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:5px 6px; border-bottom:1px solid var(--line); vertical-align:top; white-space:nowrap; }
th { color:var(--muted); font-weight:600; font-size:12px; }
td.num { text-align:right; font-variant-numeric: tabular-nums; }
td.err { color:var(--bad); max-width:260px; overflow:hidden; text-overflow:ellipsis; }
td.actions button { margin:0 3px 0 0; padding:2px 6px; font-size:12px; }
td.name button.link { border:0; padding:0; background:none; color:var(--info); font-weight:600; }
tr.detail td { background:#fafafb; white-space:normal; }
.detail-grid { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; font-size:12px; margin-bottom:6px; }
.detail-grid dt { color:var(--muted); }
.detail-grid dd { margin:0; overflow-wrap:anywhere; }
pre.stack, pre.logs { margin:4px 0; padding:6px 8px; background:#fff; border:1px solid var(--line); border-radius:4px; font:12px/1.35 ui-monospace, SFMono-Regular, Menlo, monospace; max-height:220px; overflow:auto; white-space:pre-wrap; }
pre.stack { color:var(--bad); }
pre.stack.stale { color:var(--muted); }
#summary .chip.bad, #summary .chip.late { color:var(--bad); border-color:var(--bad); }
tr.empty td { color:var(--muted); }
.status { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; }
.status-active { background:var(--ok); }
.status-paused { background:var(--muted); }
.status-restarting { background:var(--warn); }
.status-quarantined { background:var(--bad); }
.conn { font-size:12px; padding:2px 8px; border-radius:10px; border:1px solid var(--line); }
.conn.on { color:var(--ok); border-color:var(--ok); }
.conn.off { color:var(--muted); }
#notice { margin:8px 16px 0; padding:6px 10px; border-radius:4px; background:#ddf4ff; border:1px solid var(--info); }
#notice.ok { background:#dafbe1; border-color:var(--ok); }
#notice.error { background:#ffebe9; border-color:var(--bad); }
#components { list-style:none; margin:0; padding:0; }
#components li { display:flex; justify-content:space-between; align-items:center; padding:4px 0; border-bottom:1px solid var(--line); }
#components .state-on { color:var(--ok); font-weight:600; }
#components .state-off { color:var(--bad); font-weight:600; }
#feed { list-style:none; margin:0; padding:0; max-height:520px; overflow:auto; font:12px/1.35 ui-monospace, SFMono-Regular, Menlo, monospace; }
#feed li { padding:3px 0; border-bottom:1px solid var(--line); overflow-wrap:anywhere; }
#feed details summary { cursor:pointer; list-style:none; }
#feed details summary::-webkit-details-marker { display:none; }
#feed details pre { margin:4px 0 2px; white-space:pre-wrap; color:var(--muted); }
#feed .who { color:var(--muted); }
#feed .seq { color:var(--muted); }
#feed .topic { font-weight:700; }
#feed .t-agent-failed, #feed .t-agent-quarantined, #feed .t-bundle-rejected { color:var(--bad); }
#feed .t-agent-restarted { color:var(--warn); }
canvas { width:100%; height:auto; border:1px solid var(--line); border-radius:4px; }
#legend { display:flex; flex-wrap:wrap; gap:10px; margin-top:6px; font-size:12px; }
#legend span::before { content:""; display:inline-block; width:10px; height:10px; margin-right:4px; background:var(--c); border-radius:2px; }
@media (max-width: 1000px) { main { grid-template-columns: 1fr; } #components-section, #feed-section, #agents-section, #chart-section { grid-column:auto; grid-row:auto; } }
`;
