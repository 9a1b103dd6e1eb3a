/**
 * The console's stylesheet: the training report's chart rules (CHART_STYLE,
 * so the card's charts look as they do in report.html) and the page's own.
 * Served as a file (a strict Content-Security-Policy allows no inline
 * style); colours keep a contrast of at least 4.5:1 against their background.
 */
import { CHART_STYLE, INK, MUTED } from "../../../report/charts.js";

const ACCENT = "#4b3f9e";
const WARN = "#8a4b00";
const ERROR = "#b42318";
const LINE = "#d9e2ec";

export const CONSOLE_STYLE = `:root { color-scheme: light; }
*, *::before, *::after { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: ${INK}; margin: 0; background: #f5f7fa; }
a { color: ${ACCENT}; }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, [tabindex]:focus-visible, summary:focus-visible { outline: 3px solid ${ACCENT}; outline-offset: 2px; }
.skip { position: absolute; left: -9999px; top: 0; background: #fff; padding: 8px 12px; z-index: 10; }
.skip:focus { left: 8px; top: 8px; }
header.top { background: #fff; border-bottom: 1px solid ${LINE}; }
header.top .inner, main { max-width: 1040px; margin: 0 auto; padding: 14px 16px; }
header.top h1 { font-size: 22px; margin: 0; }
header.top h1 .version { font-size: 15px; font-weight: normal; color: ${MUTED}; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 6px 0 0; padding: 0; font-size: 14px; }
h2 { font-size: 19px; margin: 0 0 10px; }
h3 { font-size: 16px; margin: 18px 0 8px; }
.muted, .meta { color: ${MUTED}; font-weight: normal; }
.meta { font-size: 13px; margin: 2px 0 0; }
code, pre, .num { font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
section.panel { background: #fff; border-radius: 10px; padding: 16px 18px; margin: 16px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.notice { border-left: 4px solid ${ACCENT}; background: #efedfa; padding: 8px 12px; margin: 12px 0 0; border-radius: 4px; }
.notice:empty { display: none; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; margin: 0 0 14px; }
.card { background: #f5f7fa; border-radius: 8px; padding: 10px 12px; min-width: 0; overflow-wrap: anywhere; }
.card .title { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: ${MUTED}; }
.card .value { font-size: 24px; font-weight: 600; }
.card .note { font-size: 12px; color: ${MUTED}; }
.charts { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
figure { margin: 0; max-width: 100%; }
figcaption { font-size: 13px; color: ${MUTED}; margin-bottom: 6px; max-width: 440px; }
svg { max-width: 100%; height: auto; }
${CHART_STYLE}
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 4px 10px; text-align: left; }
td.num, th.num { text-align: right; }
thead th { border-bottom: 1px solid ${LINE}; font-weight: 600; }
tbody tr:nth-child(even) { background: #f8fafc; }
dl.pairs { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; font-size: 14px; }
dl.pairs dt { color: ${MUTED}; }
dl.pairs dd { margin: 0; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(300px, 100%), 1fr)); gap: 16px 24px; }
.columns > * { min-width: 0; }
.feature { margin: 0 0 12px; }
.feature .head { display: flex; justify-content: space-between; gap: 8px; align-items: baseline; }
.feature label { font-weight: 600; }
.feature .range { font-size: 12px; color: ${MUTED}; }
.feature .controls { display: flex; gap: 10px; align-items: center; }
.feature input[type=range] { flex: 1; min-width: 0; accent-color: ${ACCENT}; }
.feature input[type=number] { width: 6.5em; font: inherit; padding: 3px 6px; border: 1px solid #9aa5b1; border-radius: 6px; }
.feature .flag { font-size: 13px; margin: 2px 0 0; min-height: 1.2em; }
.feature.out input[type=number] { border-color: ${WARN}; background: #fff7e6; }
.feature.out .flag { color: ${WARN}; }
.feature.invalid input[type=number] { border-color: ${ERROR}; background: #fdecea; }
.feature.invalid .flag { color: ${ERROR}; }
.result .species { font-size: 22px; font-weight: 600; margin: 0 0 6px; }
.bars { list-style: none; margin: 0; padding: 0; }
.bars li { display: grid; grid-template-columns: 7.5em 1fr 4.5em; gap: 8px; align-items: center; margin: 4px 0; }
.bars .track { display: block; background: #e4e7eb; border-radius: 4px; height: 14px; overflow: hidden; }
.bars .fill { display: block; background: #7b8794; height: 100%; width: calc(var(--p, 0) * 100%); }
.bars li.top .fill { background: ${ACCENT}; }
.bars .pct { text-align: right; font-variant-numeric: tabular-nums; }
.server-flag { color: ${WARN}; font-size: 14px; }
.server-flag:empty, .error-text:empty { display: none; }
.error-text { color: ${ERROR}; }
.snippets fieldset { border: 0; padding: 0; margin: 0 0 6px; display: flex; flex-wrap: wrap; gap: 4px 14px; }
.snippets legend { font-weight: 600; padding: 0; margin-bottom: 4px; }
.snippets pre { background: #1f2933; color: #f5f7fa; padding: 10px 12px; border-radius: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; margin: 6px 0; }
button { font: inherit; padding: 4px 12px; border-radius: 6px; border: 1px solid ${ACCENT}; background: ${ACCENT}; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: ${ACCENT}; }
.drop { border: 2px dashed #9aa5b1; border-radius: 10px; padding: 18px; text-align: center; }
.drop.over { border-color: ${ACCENT}; background: #efedfa; }
.problems { color: ${ERROR}; font-size: 14px; }
.problems:empty { display: none; }
.download { display: inline-block; margin: 8px 0; }
td.mismatch { color: ${ERROR}; font-weight: 600; }
td.flagged { color: ${WARN}; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 10px; margin: 0 0 12px; }
.tiles .card .value { font-size: 20px; }
.tiles [data-tile=model] .value { font: 600 16px/1.6 ui-monospace, SFMono-Regular, Menlo, monospace; }
.live-charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 16px; }
.live-charts svg { width: 100%; height: auto; background: #fbfcfd; border: 1px solid ${LINE}; border-radius: 6px; }
svg .series { fill: none; stroke: ${ACCENT}; stroke-width: 2; }
svg .series.second { stroke: #c05621; stroke-dasharray: 5 3; }
svg .reload-mark { stroke: ${WARN}; stroke-width: 1.5; stroke-dasharray: 3 3; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 13px; margin: 4px 0 0; padding: 0; list-style: none; }
.legend .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
.mix-0 { fill: #4e79a7; background: #4e79a7; } .mix-1 { fill: #f28e2b; background: #f28e2b; } .mix-2 { fill: #59a14f; background: #59a14f; }
.mix-3 { fill: #b07aa1; background: #b07aa1; } .mix-4 { fill: #9c755f; background: #9c755f; } .mix-5 { fill: #76b7b2; background: #76b7b2; }
.status { font-size: 14px; color: ${MUTED}; }
[hidden] { display: none !important; }
@media (max-width: 520px) {
  header.top .inner, main { padding: 10px; }
  section.panel { padding: 12px; }
  .bars li { grid-template-columns: 6.5em 1fr 4em; }
  th, td { padding: 4px 6px; }
}`;
