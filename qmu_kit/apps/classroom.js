// The classroom page's only script (qmu_kit.apps.static inlines it): find the stop the controls point
// at, fetch its numbers and chart data (stops/<key>.json) and draw the charts as inline SVG. No library,
// nothing requested from anywhere but this page's own server. A response to an older move is ignored
// (the visitor moved on).
'use strict';
const STOPS = JSON.parse(document.getElementById('qmu-stops').textContent);
const NAMES = Object.keys(STOPS);
const WIDTH = 560, PLOT_HEIGHT = 250, MARGIN = {left: 64, right: 18, top: 34};
let shown = 0;

function esc(text) {
  return String(text).replace(/[&<>"]/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]));
}

function position(axis, from, to) {
  if (axis.scale === 'log') {
    const low = Math.log10(axis.min), high = Math.log10(axis.max);
    return v => from + (Math.log10(Math.max(v, axis.min)) - low) / (high - low) * (to - from);
  }
  return v => from + (v - axis.min) / (axis.max - axis.min) * (to - from);
}

function ticks(axis) {
  if (axis.scale === 'log') {
    const out = [];
    for (let e = Math.ceil(Math.log10(axis.min) - 1e-9); e <= Math.floor(Math.log10(axis.max) + 1e-9); e++) out.push(10 ** e);
    return out;
  }
  const raw = (axis.max - axis.min) / 5, power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map(m => m * power).find(s => s >= raw);
  const out = [];
  for (let v = Math.ceil(axis.min / step) * step; v <= axis.max + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

function tickLabel(axis, v) {
  if (axis.scale === 'log') return v >= 1e-2 && v <= 1e3 ? String(v) : `1e${Math.round(Math.log10(v))}`;
  return String(+v.toPrecision(6));
}

function textLines(x, y, text, attributes) {
  return String(text).split('\n').map((line, i) =>
    `<text x="${x}" y="${y + i * 12}" ${attributes}>${esc(line)}</text>`).join('');
}

// One <svg> per chart: role="img", named by its title and described by its generated alt text.
function chart(spec, id) {
  const legend = spec.kind === 'bars' ? (spec.legend ? spec.series : []) : spec.marks.filter(m => m.label);
  const groupLines = spec.kind === 'bars' ? Math.max(...spec.groups.map(g => g.split('\n').length)) : 1;
  const bottom = MARGIN.top + PLOT_HEIGHT, legendTop = bottom + (spec.kind === 'bars' ? 24 + 12 * groupLines : 56);
  const height = legendTop + 16 * legend.length + 6;
  const left = MARGIN.left, right = WIDTH - MARGIN.right;
  const y = position(spec.y, bottom, MARGIN.top);
  const hatch = hatchFills(spec.patterns || {}, id);
  const parts = [`<title id="${id}-title">${esc(spec.title)}</title><desc id="${id}-desc">${esc(spec.alt)}</desc>`,
    hatch.defs, `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" class="qmu-chart-title">${esc(spec.title)}</text>`];
  for (const v of ticks(spec.y)) {
    parts.push(`<line x1="${left}" x2="${right}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e3e3"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${esc(tickLabel(spec.y, v))}</text>`);
  }
  parts.push(`<text transform="translate(14 ${(MARGIN.top + bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(spec.y.label)}</text>`);
  if (spec.kind === 'bars') {
    const slot = (right - left) / spec.groups.length, width = 0.8 * slot / spec.series.length;
    spec.groups.forEach((group, g) => parts.push(textLines(left + slot * (g + 0.5), bottom + 16, group, 'text-anchor="middle"')));
    spec.series.forEach((series, s) => series.values.forEach((value, g) => {
      const x = left + slot * g + 0.1 * slot + s * width, colour = series.colours ? series.colours[g] : series.colour;
      const box = `x="${x}" y="${y(value)}" width="${width - 2}" height="${Math.max(0, bottom - y(value))}"`;
      parts.push(`<rect ${box} fill="${colour}" stroke="#222" stroke-width="0.5">` +
        `<title>${esc(series.label === 'value' ? spec.groups[g].replace(/\n/g, ' ') : series.label)}: ${esc(series.text[g])}</title></rect>` +
        hatch.over(series.hatch, box));
      const mid = x + (width - 2) / 2;
      if (series.low[g] !== null) {
        parts.push(`<path d="M${mid} ${y(series.low[g])}V${y(series.high[g])}M${mid - 3} ${y(series.low[g])}h6M${mid - 3} ${y(series.high[g])}h6" stroke="#333" fill="none"/>`);
      }
      const top = series.high[g] !== null ? y(series.high[g]) : y(value);
      parts.push(`<text x="${mid}" y="${top - 4}" text-anchor="middle" class="qmu-bar-label">${esc(series.text[g].split(' [')[0])}</text>`);
    }));
    if (spec.reference !== undefined) {
      parts.push(`<line x1="${left}" x2="${right}" y1="${y(spec.reference)}" y2="${y(spec.reference)}" stroke="#777" stroke-dasharray="1 3"/>`);
    }
  } else {
    const x = position(spec.x, left, right);
    for (const v of ticks(spec.x)) {
      parts.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${bottom}" y2="${bottom + 4}" stroke="#333"/>`,
        `<text x="${x(v)}" y="${bottom + 16}" text-anchor="middle">${esc(tickLabel(spec.x, v))}</text>`);
    }
    parts.push(`<text x="${(left + right) / 2}" y="${bottom + 34}" text-anchor="middle">${esc(spec.x.label)}</text>`);
    for (const mark of spec.marks) parts.push(drawMark(mark, x, y, bottom));
  }
  parts.push(`<path d="M${left} ${MARGIN.top}V${bottom}H${right}" stroke="#333" fill="none"/>`);
  legend.forEach((entry, i) => {
    const top = legendTop + 16 * i;
    const dash = entry.dash ? ` stroke-dasharray="${entry.dash}"` : '';
    const swatch = `x="${left}" y="${top - 9}" width="22" height="10"`;
    parts.push(entry.fill || spec.kind === 'bars'
      ? `<rect ${swatch} fill="${entry.colour}"/>` + hatch.over(entry.hatch, swatch)
      : `<line x1="${left}" x2="${left + 22}" y1="${top - 4}" y2="${top - 4}" stroke="${entry.colour}" stroke-width="2.5"${dash}/>`,
    `<text x="${left + 30}" y="${top}">${esc(entry.label)}</text>`);
  });
  return `<svg role="img" aria-labelledby="${id}-title ${id}-desc" viewBox="0 0 ${WIDTH} ${height}" class="qmu-chart">` +
    `${parts.join('')}</svg>`;
}

// The chart's hatchings (the Python side's patterns: one <pattern> per hatching, defined once per
// chart) and the hatched layer a bar or legend swatch gets over its colour, as matplotlib hatches bars.
function hatchFills(patterns, id) {
  const ids = {};
  const defs = Object.entries(patterns).map(([hatch, p], i) => {
    ids[hatch] = `${id}-hatch-${i}`;
    return `<pattern id="${ids[hatch]}" patternUnits="userSpaceOnUse" width="${p.size}" height="${p.size}">` +
      `<path d="${p.path}" stroke="${p.colour}" stroke-width="1.2" stroke-linecap="round" fill="none"/></pattern>`;
  }).join('');
  return {
    defs: defs ? `<defs>${defs}</defs>` : '',
    over: (hatch, box) => hatch && ids[hatch]
      ? `<rect ${box} fill="url(#${ids[hatch]})" class="qmu-hatch" data-hatch="${esc(hatch)}" pointer-events="none"/>` : '',
  };
}

function drawMark(mark, x, y, bottom) {
  const dash = mark.dash ? ` stroke-dasharray="${mark.dash}"` : '';
  const line = points => 'M' + points.map(([a, b]) => `${a.toFixed(1)} ${b.toFixed(1)}`).join('L');
  if (mark.type === 'band') {
    const upper = mark.x.map((v, i) => [x(v), y(mark.high[i])]), lower = mark.x.map((v, i) => [x(v), y(mark.low[i])]).reverse();
    return `<path d="${line(upper.concat(lower))}Z" fill="${mark.colour}" fill-opacity="0.18" stroke="none"/>`;
  }
  if (mark.type === 'vline') {
    return `<line x1="${x(mark.x)}" x2="${x(mark.x)}" y1="${MARGIN.top}" y2="${bottom}" stroke="${mark.colour}" stroke-width="2"${dash}/>`;
  }
  if (mark.type === 'hist') {
    if (mark.fill) {
      return mark.counts.map((count, i) => count > 0
        ? `<rect x="${x(mark.edges[i])}" y="${y(count)}" width="${Math.max(0.5, x(mark.edges[i + 1]) - x(mark.edges[i]))}" height="${bottom - y(count)}" fill="${mark.colour}" fill-opacity="0.85"/>`
        : '').join('');
    }
    const points = [];
    mark.counts.forEach((count, i) => {
      const height = count > 0 ? y(count) : bottom;
      points.push([x(mark.edges[i]), height], [x(mark.edges[i + 1]), height]);
    });
    return `<path d="${line(points)}" stroke="${mark.colour}" stroke-width="2" fill="none"${dash}/>`;
  }
  let points = mark.x.map((v, i) => [x(v), y(mark.y[i])]);
  if (mark.type === 'step') points = points.flatMap((p, i) => i === 0 ? [p] : [[p[0], points[i - 1][1]], p]);
  return `<path d="${line(points)}" stroke="${mark.colour}" stroke-width="2" fill="none"${dash}/>`;
}

function draw(stop) {
  document.getElementById('qmu-numbers').innerHTML = stop.numbers;
  document.getElementById('qmu-charts').innerHTML = stop.charts
    .map((spec, i) => `<figure class="qmu-figure">${chart(spec, `qmu-chart-${i}`)}</figure>`).join('');
}

function indexOf(name) {
  const checked = document.querySelector(`[name="${name}"]:checked`);
  return Number(checked ? checked.value : document.querySelector(`[name="${name}"]`).value);
}

async function show() {
  const ticket = ++shown;
  const key = NAMES.map(indexOf).join('-');
  for (const name of NAMES) {
    const label = STOPS[name][indexOf(name)], out = document.getElementById(`out-${name}`);
    if (out) out.textContent = label;
    const range = document.querySelector(`input[type=range][name="${name}"]`);
    if (range) range.setAttribute('aria-valuetext', label);
  }
  const status = document.getElementById('qmu-status');
  status.innerHTML = '<span class="qmu-busy">loading...</span>';
  let stop = null;
  try {
    const response = await fetch(`stops/${key}.json`);
    stop = response.ok ? await response.json() : null;
  } catch (error) {
    stop = null;
  }
  if (ticket !== shown) return;
  document.body.dataset.stop = key;
  if (stop === null) {
    status.innerHTML = `<span class="qmu-error">${esc(NOT_PRECOMPUTED)}</span>`;
    document.getElementById('qmu-numbers').innerHTML = '';
    document.getElementById('qmu-charts').innerHTML = '';
    return;
  }
  draw(stop);
  status.innerHTML = '<span class="qmu-ready">ready</span>';
}

for (const element of document.querySelectorAll('.qmu-control input, .qmu-control select')) {
  element.addEventListener(element.type === 'range' ? 'input' : 'change', show);
}
const first = document.getElementById('qmu-first');
if (first) draw(JSON.parse(first.textContent));
