/** The report page's CSS (the charts' own rules come from ./charts.ts). */
import { CHART_STYLE, INK, MUTED } from "../../report/charts.js";

export const REPORT_STYLE = `body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: ${INK}; margin: 0; background: #f5f7fa; }
main { max-width: 980px; margin: 0 auto; padding: 28px 20px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 12px; }
.muted, .meta { color: ${MUTED}; font-weight: normal; }
.meta { font-size: 13px; margin-bottom: 20px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
section { background: #fff; border-radius: 10px; padding: 18px 20px; margin: 16px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 150px; background: #fff; border-radius: 10px; padding: 12px 16px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.card-title { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: ${MUTED}; }
.card-value { font-size: 28px; font-weight: 600; }
.card-note { font-size: 12px; color: ${MUTED}; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure { margin: 0; }
figcaption { font-size: 13px; color: ${MUTED}; margin-bottom: 6px; max-width: 420px; }
${CHART_STYLE}
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 5px 10px; text-align: left; }
td.num, .coef td { text-align: right; font-variant-numeric: tabular-nums; }
thead th { border-bottom: 1px solid #d9e2ec; font-weight: 600; }
.coef td { border-radius: 4px; }`;
