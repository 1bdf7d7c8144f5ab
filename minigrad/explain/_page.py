"""The explainer page: one HTML file, its CSS and JavaScript inline, nothing fetched.

``render(data)`` embeds the data made by ``_html.build`` as JSON and returns the page. The
script builds the grids from the data, then shows one step at a time; it computes nothing.

State lives in the URL's hash, which the page reads on load and on every change and writes
back as you step: ``#step=5`` (steps count from 1), ``&mode=backward``, ``&cell=all`` (the
upstream gradient is 1 everywhere instead of 1 at the current cell). Keys: left/right arrows
step, space plays or pauses, b switches forward/backward, Home/End jump; ``&keys=RRB``
presses keys once the page is up (R/L arrows, B b, P space, H Home, E End), for tests.
"""
from __future__ import annotations

import html
import json

_CSS = """
body { font: 14px/1.35 system-ui, sans-serif; margin: 12px 18px; color: #222; background: #fff; }
h1 { font-size: 18px; margin: 0 0 2px; } h3 { font-size: 13px; margin: 6px 0 4px; color: #444; }
code, .mono, td, #sum, #lines, pre { font-family: ui-monospace, Menlo, Consolas, monospace; }
#title { color: #555; margin-bottom: 6px; }
#controls { margin: 6px 0; display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
button { font-size: 13px; padding: 3px 10px; border: 1px solid #999; border-radius: 4px;
         background: #f4f4f4; cursor: pointer; } button.on { background: #ffd9a8; }
#step-label { margin-left: 8px; font-weight: 600; }
#sumbox { background: #fff8ee; border: 1px solid #f0c890; border-radius: 6px; padding: 6px 10px;
          margin: 6px 0; min-height: 22px; }
#lines div { color: #444; } #sum { font-weight: 700; font-size: 15px; } #why { color: #a33; }
#where { color: #666; font-size: 12px; }
#stage, #backbox { display: flex; gap: 22px; align-items: flex-start; flex-wrap: wrap; }
.col { display: flex; flex-direction: column; align-items: flex-start; }
.stack { display: flex; flex-direction: column; gap: 8px; }
.plane { background: #fff; border: 1px solid #bbb; border-radius: 4px; padding: 3px 4px 4px;
         box-shadow: 3px 3px 0 #e2e2e2, 6px 6px 0 #f0f0f0; }
.plane .lab { font-size: 11px; color: #666; margin-bottom: 2px; }
.plane.dim { opacity: 0.35; } .hidden { display: none !important; }
table { border-collapse: collapse; } td { border: 1px solid #ccc; min-width: 26px; height: 22px;
  text-align: center; font-size: 12px; padding: 0 3px; }
td.pad { background: #ececec; color: #888; } td.ins { background: #f7f7f7; color: #aaa;
  border-style: dotted; }
td.win { background: #ffc46b; color: #000; } td.kwin { background: #ffc46b; }
td.winner { outline: 2px solid #c00; outline-offset: -2px; font-weight: 700; }
td.cur { background: #7fd17f; font-weight: 700; } td.todo { color: #bbb; }
td.nz { background: #9cc3ff; font-weight: 700; } td.pick { cursor: pointer; }
.op { font-size: 22px; color: #777; align-self: center; padding: 0 2px; }
.maps { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
#geom { margin-top: 10px; color: #333; } #geom pre { margin: 4px 0; font-size: 12px; }
#help { color: #777; font-size: 12px; margin-top: 8px; }
"""

_JS = r"""
(function () {
const D = JSON.parse(document.getElementById('data').textContent);
const S = D.steps, conv = D.kernels !== null, pool = !conv;
const $ = (id) => document.getElementById(id);
let state = {step: 0, mode: 'forward', all: false}, timer = null;

function table(id, rows, classer) {
  const t = document.createElement('table'); t.id = id;
  rows.forEach((row, r) => { const tr = t.insertRow();
    row.forEach((v, c) => { const td = tr.insertCell(); td.id = id + '-' + r + '-' + c;
      td.textContent = v; if (classer) { const k = classer(r, c); if (k) td.className = k; } }); });
  return t;
}
function plane(label, tbl, extra) {
  const d = document.createElement('div'); d.className = 'plane' + (extra ? ' ' + extra : '');
  const l = document.createElement('div'); l.className = 'lab'; l.textContent = label;
  d.appendChild(l); d.appendChild(tbl); return d;
}
function zeros(h, w) { return Array.from({length: h}, () => Array(w).fill('0')); }
function sign(text) { const s = document.createElement('span'); s.className = 'op';
  s.textContent = text; return s; }

function build() {
  $('title').textContent = D.title + (D.batch_note ? '  [' + D.batch_note + ']' : '');
  const grid = $('grid');
  const grp = (k, per) => D.groups > 1 ? ' (group ' + Math.floor(k / per) + ')' : '';
  D.grid.forEach((g, c) => grid.appendChild(plane('input channel ' + c +
    grp(c, D.channels / D.groups), table('in-' + c, g,
    (r, q) => D.mark[r][q] === 1 ? 'pad' : D.mark[r][q] === 2 ? 'ins' : ''), 'chan-' + c)));
  const out = $('out');
  D.output.forEach((g, o) => out.appendChild(plane((pool ? 'channel ' : 'output channel ') + o +
    grp(o, D.og),
    table('out-' + o, g, () => 'pick'))));
  if (conv) {
    const kc = $('kernels'), pc = $('partials');
    D.kernels.forEach((ks, o) => {
      const box = document.createElement('div'); box.className = 'stack ko'; box.id = 'kbox-' + o;
      ks.forEach((k, ci) => box.appendChild(plane(D.kernel_labels[o][ci] + ' (channel ' +
        chanOf(o, ci) + ')', table('k-' + o + '-' + ci, k))));
      kc.appendChild(box);
      const maps = document.createElement('div'); maps.className = 'maps po'; maps.id = 'pbox-' + o;
      D.partials[o].forEach((m, ci) => {
        if (ci) maps.appendChild(sign('+'));
        maps.appendChild(plane('channel ' + chanOf(o, ci) + ' * ' + D.kernel_labels[o][ci],
          table('part-' + o + '-' + ci, m)));
      });
      if (D.bias) { maps.appendChild(sign('+')); maps.appendChild(plane('bias[' + o + ']',
        table('bias-' + o, [[D.bias[o]]]))); }
      maps.appendChild(sign('='));
      maps.appendChild(plane('output channel ' + o, table('pout-' + o, D.output[o])));
      pc.appendChild(maps);
    });
    if (D.cg === 1 && !D.bias) $('pcol').classList.add('hidden');   // one map: nothing to add
  } else { $('kcol').classList.add('hidden'); $('pcol').classList.add('hidden'); }
  // backward grids: zeros, filled per step from the data
  const up = $('up'), gx = $('gx');
  D.output.forEach((g, o) => up.appendChild(plane('dL/dout, channel ' + o,
    table('up-' + o, zeros(g.length, g[0].length), () => 'pick'))));
  D.input.forEach((g, c) => gx.appendChild(plane('dL/dx, channel ' + c,
    table('gx-' + c, zeros(g.length, g[0].length)))));
  if (D.grad_w_shape) {
    const [a, b, h, w] = D.grad_w_shape, gw = $('gw');
    for (let i = 0; i < a; i++) {
      const box = document.createElement('div'); box.className = 'stack';
      for (let j = 0; j < b; j++) box.appendChild(plane('dL/dw[' + i + ', ' + j + ']',
        table('gw-' + i + '-' + j, zeros(h, w))));
      gw.appendChild(box); }
    if (D.bias) $('gb').appendChild(plane('dL/dbias', table('gb', [D.bias.map(() => '0')])));
  } else { $('gwcol').classList.add('hidden'); }
  $('formula').textContent = D.formula.join('\n');
  const geo = $('geometry'); D.geometry.forEach((t) => { const d = document.createElement('div');
    d.textContent = t; geo.appendChild(d); });
  document.querySelectorAll('td.pick').forEach((td) => td.addEventListener('click', () => {
    const [, o, i, j] = td.id.split('-').map(Number);
    const k = S.findIndex((s) => s.o === o && s.i === i && s.j === j);
    if (k >= 0) { state.step = k; state.all = false; render(); } }));
}
function chanOf(o, ci) { return Math.floor(o / D.og) * D.cg + ci; }

function clear(cls) {
  document.querySelectorAll('.' + cls).forEach((e) => e.classList.remove(cls)); }
function mark(id, cls) { const e = $(id); if (e) e.classList.add(cls); }

function render() {
  const s = S[state.step], back = state.mode === 'backward';
  ['win', 'kwin', 'cur', 'todo', 'winner', 'nz'].forEach(clear);
  s.cells.forEach(([c, r, q]) => mark('in-' + c + '-' + r + '-' + q, 'win'));
  if (s.winner) mark('in-' + s.winner.join('-'), 'winner');
  S.forEach((t, k) => { const id = 'out-' + t.o + '-' + t.i + '-' + t.j;
    if (k === state.step) mark(id, 'cur');
    else if (k > state.step && !back) {
      mark(id, 'todo'); mark('pout-' + t.o + '-' + t.i + '-' + t.j, 'todo');
      (D.partials ? D.partials[t.o] : []).forEach((m, ci) =>
        mark('part-' + t.o + '-' + ci + '-' + t.i + '-' + t.j, 'todo')); } });
  if (conv) {
    document.querySelectorAll('.ko, .po').forEach((e) => e.classList.add('hidden'));
    $('kbox-' + s.o).classList.remove('hidden'); $('pbox-' + s.o).classList.remove('hidden');
    s.kcells.forEach(([ci, p, q]) => mark('k-' + s.o + '-' + ci + '-' + p + '-' + q, 'kwin'));
    D.partials[s.o].forEach((m, ci) =>
      mark('part-' + s.o + '-' + ci + '-' + s.i + '-' + s.j, 'cur'));
    mark('pout-' + s.o + '-' + s.i + '-' + s.j, 'cur');
  }
  const used = new Set(s.cells.map((c) => c[0]));
  D.grid.forEach((g, c) => document.querySelector('.chan-' + c).classList.toggle('dim',
    !used.has(c) && (conv || D.channels > 1)));
  $('lines').replaceChildren(...s.lines.map((l) => { const d = document.createElement('div');
    d.id = 'line-' + l.c; d.textContent = 'channel ' + l.c + ':  ' + l.text; return d; }));
  $('sum').textContent = 'out[' + s.index.join(',') + '] = ' + s.total;
  $('why').textContent = s.why || '';
  $('where').textContent = s.where;
  $('step-label').textContent = 'step ' + (state.step + 1) + ' of ' + S.length + ': out[' +
    s.index.join(',') + '] = ' + s.value;
  $('value').textContent = s.value;
  $('mode').textContent = state.mode;
  $('backbox').classList.toggle('hidden', !back);
  $('modebtn').classList.toggle('on', back); $('allbtn').classList.toggle('on', state.all);
  $('play').textContent = timer ? 'pause' : 'play';
  if (back) {
    const g = state.all ? D.backward_all : D.backward[state.step];
    document.querySelectorAll('#backbox td').forEach((td) => { td.textContent = '0'; });
    const put = (prefix, e) => { const id = prefix + '-' + e.slice(0, -1).join('-');
      const td = $(id); if (td) { td.textContent = e[e.length - 1]; td.classList.add('nz'); } };
    g.upstream.forEach((e) => put('up', e)); g.gx.forEach((e) => put('gx', e));
    (g.gw || []).forEach((e) => put('gw', e));
    (g.gb || []).forEach((e) => { const td = $('gb-0-' + e[0]); if (td) {
      td.textContent = e[1]; td.classList.add('nz'); } });
    $('backnote').textContent = state.all
      ? 'upstream gradient: 1 at every output cell (what out.sum().backward() sends)'
      : 'upstream gradient: 1 at out[' + s.index.join(',') + '], 0 elsewhere; ' +
        'click an output cell to pick another';
  }
  const h = '#step=' + (state.step + 1) + (back ? '&mode=backward' : '') +
    (state.all ? '&cell=all' : '');
  if (location.hash !== h) history.replaceState(null, '', h);
}
function readHash() {
  const q = new URLSearchParams(location.hash.slice(1));
  const n = parseInt(q.get('step') || '1', 10);
  state.step = Math.min(Math.max((isNaN(n) ? 1 : n) - 1, 0), S.length - 1);
  state.mode = q.get('mode') === 'backward' ? 'backward' : 'forward';
  state.all = q.get('cell') === 'all';
}
function go(k) { state.step = Math.min(Math.max(k, 0), S.length - 1); render(); }
function play() {
  if (timer) { clearInterval(timer); timer = null; render(); return; }
  if (state.step === S.length - 1) state.step = 0;
  timer = setInterval(() => { if (state.step >= S.length - 1) { clearInterval(timer);
    timer = null; render(); } else go(state.step + 1); }, 800);
  render();
}
// keys=RRLB in the address presses those keys once the page is up (R/L: right/left arrow,
// B: b, P: space, H: Home, E: End): a test can drive the page as a user would.
const pressed = new URLSearchParams(location.hash.slice(1)).get('keys') || '';
build(); readHash(); render();
window.addEventListener('hashchange', () => { readHash(); render(); });
$('prev').onclick = () => go(state.step - 1); $('next').onclick = () => go(state.step + 1);
$('play').onclick = play;
$('modebtn').onclick = () => { state.mode = state.mode === 'forward' ? 'backward' : 'forward';
  render(); };
$('allbtn').onclick = () => { state.all = !state.all; state.mode = 'backward'; render(); };
document.addEventListener('keydown', (e) => {
  if (e.key === 'ArrowRight') go(state.step + 1);
  else if (e.key === 'ArrowLeft') go(state.step - 1);
  else if (e.key === 'Home') go(0); else if (e.key === 'End') go(S.length - 1);
  else if (e.key === ' ') { e.preventDefault(); play(); }
  else if (e.key === 'b') $('modebtn').onclick(); else return;
});
const KEYS = {R: 'ArrowRight', L: 'ArrowLeft', B: 'b', P: ' ', H: 'Home', E: 'End'};
for (const ch of pressed) if (KEYS[ch])
  document.dispatchEvent(new KeyboardEvent('keydown', {key: KEYS[ch], cancelable: true}));
})();
"""

_BODY = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>minigrad.explain: {op}</title>
<style>{css}</style></head>
<body>
<h1>minigrad.explain: {op}</h1>
<div id="title"></div>
<div id="controls">
  <button id="prev" title="left arrow">&#9664; prev</button>
  <button id="play" title="space">play</button>
  <button id="next" title="right arrow">next &#9654;</button>
  <button id="modebtn" title="b">backward</button>
  <button id="allbtn">upstream: all ones</button>
  <span id="step-label"></span>
  <span class="hidden">mode: <span id="mode"></span>, value: <span id="value"></span></span>
</div>
<div id="sumbox"><div id="lines"></div><div id="sum"></div><div id="why"></div>
  <div id="where"></div></div>
<div id="stage">
  <div class="col"><h3>input{padded}</h3><div class="stack" id="grid"></div></div>
  <div class="col" id="kcol"><h3>kernel</h3><div id="kernels"></div></div>
  <div class="col" id="pcol"><h3>one map per input channel, added together</h3>
    <div id="partials"></div></div>
  <div class="col"><h3>output</h3><div class="stack" id="out"></div></div>
</div>
<div id="backbox" class="hidden">
  <div class="col" style="flex-basis:100%"><h3 id="backnote"></h3></div>
  <div class="col"><h3>upstream gradient dL/dout</h3><div class="stack" id="up"></div></div>
  <div class="col"><h3>input gradient dL/dx (minigrad's backward)</h3>
    <div class="stack" id="gx"></div></div>
  <div class="col" id="gwcol"><h3>kernel gradient dL/dw</h3><div class="maps" id="gw"></div>
    <div id="gb"></div></div>
</div>
<div id="geom"><h3>geometry</h3><div id="geometry"></div>
  <h3>output size</h3><pre id="formula"></pre></div>
<div id="help">Made by minigrad.explain.html: every number was computed by minigrad (the
output by its {op}, the gradients by its backward). Keys: &larr; &rarr; step, space plays,
b switches forward/backward, Home/End jump. The address keeps the state: #step=5&amp;mode=backward.
</div>
<script type="application/json" id="data">{data}</script>
<script>{js}</script>
</body></html>
"""


def render(data) -> str:
    """The page for ``data`` (from ``_html.build``)."""
    text = json.dumps(data, separators=(",", ":"))
    text = text.replace("</", "<\\/")          # never close the script element early
    padded = " (padded)" if any(1 in row for row in data["mark"]) else ""
    if data["op"] == "conv_transpose2d":
        padded = " (spread out and padded)"
    return _BODY.format(op=html.escape(data["op"]), css=_CSS, js=_JS, data=text,
                        padded=padded)
