// The state-chart viewer's one script, served by the app (the pages allow no inline script).
// Zoom and drag-to-pan the chart; click a state to see its transitions; step through an order's
// journal (the cursor moves along the numbered path); send events to the scratch actor.
(() => {
  // Times are printed in China time; the exact instant and the reader's local time are on hover.
  document.querySelectorAll('time[datetime]').forEach((t) => {
    t.title = `${t.dateTime} · local ${new Date(t.dateTime).toLocaleString()}`;
  });
  const chart = document.querySelector('.chart');
  const svg = chart && chart.querySelector('svg');
  if (!chart || !svg) return;
  const natural = Number(svg.dataset.width);
  let zoom = 1;
  const setZoom = (z) => {
    zoom = Math.min(3, Math.max(0.25, z));
    svg.setAttribute('width', String(Math.round(natural * zoom)));
    svg.removeAttribute('height');
    const label = document.querySelector('[data-zoom-label]');
    if (label) label.textContent = `${Math.round(zoom * 100)} %`;
  };
  document.querySelectorAll('[data-zoom]').forEach((b) => b.addEventListener('click', () => {
    const how = b.getAttribute('data-zoom');
    setZoom(how === 'fit' ? chart.clientWidth / natural : how === 'in' ? zoom * 1.25 : zoom / 1.25);
  }));
  // A narrow window shows part of the chart: start with the current state in view.
  const focus = svg.querySelector('.state.current > rect');
  if (focus) {
    const box = focus.getBoundingClientRect();
    chart.scrollLeft += box.left - chart.getBoundingClientRect().left - Math.max(0, (chart.clientWidth - box.width) / 2);
  }
  chart.addEventListener('wheel', (e) => {
    if (!e.ctrlKey) return;
    e.preventDefault();
    setZoom(zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1));
  }, { passive: false });
  let drag = null;
  chart.addEventListener('pointerdown', (e) => {
    if (e.target.closest('.state')) return;
    drag = { x: e.clientX, y: e.clientY, left: chart.scrollLeft, top: chart.scrollTop };
    chart.classList.add('dragging');
  });
  window.addEventListener('pointermove', (e) => {
    if (!drag) return;
    chart.scrollLeft = drag.left - (e.clientX - drag.x);
    chart.scrollTop = drag.top - (e.clientY - drag.y);
  });
  window.addEventListener('pointerup', () => { drag = null; chart.classList.remove('dragging'); });

  // Click a state: its details (rendered by the server, hidden until asked for).
  const select = (id) => {
    svg.querySelectorAll('.state.selected').forEach((s) => s.classList.remove('selected'));
    const g = svg.querySelector(`.state[data-state="${CSS.escape(id)}"]`);
    if (g) g.classList.add('selected');
    document.querySelectorAll('[data-details]').forEach((d) => { d.hidden = d.getAttribute('data-details') !== id; });
  };
  svg.querySelectorAll('.state').forEach((g) => {
    const open = (e) => { e.stopPropagation(); select(g.getAttribute('data-state')); };
    g.addEventListener('click', open);
    g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') open(e); });
  });

  // Sets which states are current (the scratch actor, or the journal cursor).
  const mark = (cls, ids) => {
    svg.querySelectorAll(`.state.${cls}`).forEach((s) => s.classList.remove(cls));
    ids.forEach((id) => { const g = svg.querySelector(`.state[data-state="${CSS.escape(id)}"]`); if (g) g.classList.add(cls); });
  };

  // Time travel: the cursor is one journal row; the path is walked up to that row's step.
  const rows = [...document.querySelectorAll('tr[data-row]')];
  const journey = svg.querySelector('.journey');
  let cursor = rows.length - 1;
  const show = () => {
    rows.forEach((r, i) => r.classList.toggle('cursor', i === cursor));
    const row = rows[cursor];
    if (!row) return;
    const step = Number(row.getAttribute('data-step-upto'));
    journey.classList.add('stepping');
    journey.querySelectorAll('.step').forEach((s) => {
      const n = Number(s.getAttribute('data-step'));
      s.classList.toggle('walked', n <= step);
      s.classList.toggle('at', n === step);
    });
    mark('cursor', [row.getAttribute('data-state')]);
    const label = document.querySelector('[data-cursor-label]');
    if (label) label.textContent = `row ${cursor + 1} of ${rows.length}: ${row.getAttribute('data-event')}`;
  };
  document.querySelectorAll('[data-step-by]').forEach((b) => b.addEventListener('click', () => {
    cursor = Math.min(rows.length - 1, Math.max(0, cursor + Number(b.getAttribute('data-step-by'))));
    show();
  }));
  rows.forEach((r, i) => r.addEventListener('click', () => { cursor = i; show(); }));

  // Simulate: the whole list of events goes to the server each time; it answers every step.
  const sim = document.querySelector('form.sim');
  if (sim) {
    const sent = [];
    const log = sim.querySelector('ol');
    const error = sim.querySelector('.error');
    const run = async (events) => {
      const url = `${sim.getAttribute('action')}?events=${encodeURIComponent(JSON.stringify(events))}`;
      const answer = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
      return { ok: answer.ok, body: await answer.json() };
    };
    const render = (steps) => {
      log.replaceChildren(...steps.map((s) => {
        const li = document.createElement('li');
        li.textContent = `${s.event.type} → ${JSON.stringify(s.state)}${s.changed ? '' : ' (no change)'}; effects: ${s.effects.map((e) => e.type).join(', ') || 'none'}`;
        return li;
      }));
      const last = steps[steps.length - 1];
      mark('current', last ? last.states : sim.getAttribute('data-initial').split(' '));
      sim.setAttribute('data-state', last ? JSON.stringify(last.state) : '');
    };
    sim.querySelector('select').addEventListener('change', (e) => {
      const template = e.target.selectedOptions[0].getAttribute('data-template');
      if (template) sim.querySelector('textarea').value = template;
    });
    sim.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.textContent = '';
      let event;
      try { event = JSON.parse(sim.querySelector('textarea').value); } catch { error.textContent = 'the event is not JSON'; return; }
      const { ok, body } = await run([...sent, event]);
      if (!ok) { error.textContent = body.error ? body.error.message : 'refused'; return; }
      sent.push(event);
      render(body.steps);
    });
    sim.querySelector('[data-reset]').addEventListener('click', () => { sent.length = 0; error.textContent = ''; render([]); });
  }
})();
