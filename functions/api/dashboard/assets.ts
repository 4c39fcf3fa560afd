/** The dashboard's static assets, inlined as strings so esbuild bundles them into the API Lambda. */
export { DASHBOARD_HTML } from './html';
export { DASHBOARD_CSS } from './style';
export { DASHBOARD_JS } from './script';
