// The triad operator console: one page per view, rendered from the node's /console/api, refreshed when the node
// pushes an event (a version applied, an epoch). Text is always set as textContent, never parsed as HTML.

type Json = Record<string, any>;
interface Session {
  role: 'viewer' | 'operator';
  name: string;
  expiresAtMs: number;
  csrf: string;
}

const pages = ['overview', 'matrix', 'consensus', 'rollouts', 'history', 'alerts'] as const;
type Page = (typeof pages)[number];
const titles: Record<Page, string> = {
  overview: 'Overview',
  matrix: 'Layers × instances',
  consensus: 'Consensus',
  rollouts: 'Rollouts',
  history: 'History & audit',
  alerts: 'Alerts',
};

let session: Session;
let selected: { layer: string; instance: string } | undefined;

function h(
  tag: string,
  attrs: Record<string, string> = {},
  ...children: Array<Node | string | null | undefined>
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}
const fmt = (n: number | null | undefined, digits = 2) => (n === null || n === undefined ? '—' : n.toFixed(digits));
const time = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—');

function toSignIn(reason: string): never {
  window.location.assign(`/console/login?reason=${reason}`);
  throw new Error('signed out');
}

async function api(path: string, init?: { body: unknown }): Promise<Json> {
  const res = await fetch(`/console/api/${path}`, {
    method: init ? 'POST' : 'GET',
    credentials: 'same-origin',
    headers: init ? { 'content-type': 'application/json', 'x-triad-csrf': session?.csrf ?? '' } : {},
    ...(init ? { body: JSON.stringify(init.body) } : {}),
  });
  if (res.status === 401) toSignIn('expired');
  const body = (await res.json()) as Json;
  if (!res.ok) throw new Error(`${body.error?.code ?? res.status}: ${body.error?.message ?? res.statusText}`);
  return body;
}

function table(headers: string[], rows: Array<Array<Node | string>>, attrs: Record<string, string> = {}): HTMLElement {
  return h(
    'table',
    attrs,
    h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', {}, x)))),
    h(
      'tbody',
      {},
      ...rows.map((r) =>
        h('tr', {}, ...r.map((c) => (c instanceof HTMLElement && c.tagName === 'TD' ? c : h('td', {}, c)))),
      ),
    ),
  );
}

const card = (id: string, label: string, value: string, cls = '') =>
  h(
    'div',
    { class: 'card' },
    h('div', { class: `value ${cls}`, 'data-testid': id }, value),
    h('div', { class: 'label' }, label),
  );

async function overview(): Promise<HTMLElement> {
  const o = await api('overview');
  return h(
    'section',
    {},
    h(
      'div',
      { class: 'cards' },
      card('total-cascade', 'total cascade', o.totalCascade === null ? '—' : `${fmt(o.totalCascade)}×`),
      card('burden', 'burden saved per week', `${Math.round(o.burdenSavedHoursPerWeek).toLocaleString('en-US')} h`),
      card('consensus-error', 'consensus error', o.consensusError === null ? '—' : o.consensusError.toExponential(2)),
      card('health', 'system health', o.healthy ? 'healthy' : 'unhealthy', o.healthy ? 'OK' : 'FAIL'),
    ),
    h(
      'p',
      {},
      `desired version v${o.desiredVersion} · node ${o.instance} ${o.ready.ready ? 'ready' : `not ready: ${o.ready.reasons.join('; ')}`}`,
    ),
    table(
      ['layer', 'amplification', 'expected', 'acceptable band', 'status', 'error rate', 'burden h/week', 'instances'],
      o.layers.map((l: Json) => [
        `${l.layer} ${l.name}`,
        l.amplification === null ? '—' : `${fmt(l.amplification)}×`,
        l.expected === null ? '—' : `${fmt(l.expected)}×`,
        l.band ? `${l.band.acceptable[0]}–${l.band.acceptable[1]} (alert < ${l.band.alertBelow})` : '—',
        h('span', { class: l.status }, l.status),
        l.errorRate === null ? '—' : `${fmt(l.errorRate * 100, 1)} %`,
        fmt(l.burdenHoursPerWeek, 1),
        String(l.reportingInstances),
      ]),
      { 'data-testid': 'layers' },
    ),
  );
}

async function matrix(): Promise<HTMLElement> {
  const m = await api('matrix');
  const rows = m.layers.map((l: Json) => [
    `${l.layer} ${l.name}`,
    ...l.cells.map((c: Json) => {
      const state = c.desired ? `on ${c.percentage}%` : 'off';
      const td = h(
        'td',
        {
          class: `cell ${c.desired === c.applied ? (c.desired ? 'on' : '') : 'pending'}`,
          'data-testid': `cell-${l.layer}-${c.instance}`,
        },
        h('div', {}, `${state}${c.desired === c.applied ? '' : ' (applying)'}`),
        h('div', { class: c.status }, `${c.status} · applied v${c.appliedVersion}`),
      );
      td.addEventListener('click', () => {
        selected = { layer: l.layer, instance: c.instance };
        void render();
      });
      return td;
    }),
  ]);
  const section = h(
    'section',
    {},
    h('p', {}, `desired version v${m.desiredVersion}${m.emergencyDisabled ? ' · EMERGENCY DISABLED' : ''}`),
    table(
      [
        'layer',
        ...m.instances.map((i: Json) => `${i.instance} (v${i.appliedVersion}${i.reachable ? '' : ', unreachable'})`),
      ],
      rows,
      {
        'data-testid': 'matrix',
      },
    ),
  );
  if (selected) section.append(await cellPanel(selected.layer, selected.instance, m));
  return section;
}

/** A check's verdict as the style's status classes (PASS shows as OK; UNKNOWN has its own, never OK's, colour). */
function verdictClass(status: string): string {
  return status === 'PASS' ? 'OK' : ['OK', 'WARN', 'FAIL', 'UNKNOWN'].includes(status) ? status : 'FAIL';
}

async function cellPanel(layer: string, instance: string, m: Json): Promise<HTMLElement> {
  const cell = m.layers.find((l: Json) => l.layer === layer)?.cells.find((c: Json) => c.instance === instance);
  const panel = h('div', { class: 'panel', 'data-testid': 'cell-panel' }, h('h3', {}, `${layer} on ${instance}`));
  const gates = await api(`gates?layer=${encodeURIComponent(layer)}&instance=${encodeURIComponent(instance)}`).catch(
    (e: Error) => ({ error: e.message }),
  );
  if ('error' in gates) panel.append(h('p', { class: 'error' }, String(gates.error)));
  else {
    const now = gates.current as Json | null;
    // Where the layer should run: check-health's judgement of this instance on the last epoch's figures.
    if (now) {
      panel.append(
        h(
          'p',
          {},
          'health checks (check-health, last epoch ',
          time(now.atMs),
          '): ',
          h('span', { class: verdictClass(now.status) }, now.status),
        ),
        table(
          ['check', 'status', 'measured', 'threshold', 'samples'],
          (now.checks as Json[]).map((c) => [
            c.check,
            h('span', { class: verdictClass(c.status) }, c.status),
            c.measured,
            c.threshold,
            String(c.samples),
          ]),
          { 'data-testid': 'health-checks' },
        ),
      );
      if ((now.problems as string[]).length > 0) panel.append(h('p', {}, (now.problems as string[]).join('; ')));
    } else panel.append(h('p', { 'data-testid': 'health-checks-none' }, 'not desired here: no health checks'));
    panel.append(
      h(
        'p',
        {},
        `gate checks of activating here (dry run, measured now): ${gates.wouldPass ? 'activation would pass' : 'activation would be refused'}`,
      ),
    );
    panel.append(
      table(
        ['check', 'instance', 'status', 'measured', 'threshold', 'samples', 'detail'],
        (gates.checks as Json[]).map((c) => [
          c.check,
          c.instance,
          h('span', { class: c.status === 'PASS' ? 'OK' : 'FAIL' }, c.status),
          c.measured,
          c.threshold,
          String(c.samples),
          c.detail,
        ]),
        { 'data-testid': 'gate-checks' },
      ),
    );
  }
  if (session.role === 'operator' && cell) {
    const reason = h('input', {
      type: 'text',
      placeholder: 'reason (required)',
      'data-testid': 'reason',
      class: 'mutate',
    }) as HTMLInputElement;
    const out = h('p', { 'data-testid': 'action-result' });
    const act = (kind: 'activate' | 'deactivate') => async () => {
      out.textContent = 'working…';
      try {
        const r = await api('mutate', {
          body: { mutation: { kind, layers: [layer], instances: [instance] }, reason: reason.value },
        });
        out.textContent = `${r.plan.command}: v${r.plan.beforeVersion} → v${r.plan.afterVersion}${r.complete ? ', applied' : ', not yet applied everywhere'}`;
      } catch (e) {
        out.textContent = (e as Error).message;
        out.className = 'error';
      }
    };
    const button = (label: string, kind: 'activate' | 'deactivate') => {
      const b = h('button', { type: 'button', class: 'mutate', 'data-testid': kind }, label);
      b.addEventListener('click', () => void act(kind)());
      return b;
    };
    panel.append(
      h('div', {}, reason, ' ', cell.desired ? button('Deactivate', 'deactivate') : button('Activate', 'activate')),
      out,
    );
  }
  return panel;
}

async function consensusPage(): Promise<HTMLElement> {
  const c = await api('consensus');
  const last = c.last as Json | null;
  return h(
    'section',
    {},
    h('p', {}, `topology ${c.topology.label}: ${c.topology.edges.map((e: string[]) => `${e[0]}–${e[1]}`).join(', ')}`),
    last
      ? h(
          'div',
          {},
          h(
            'p',
            { 'data-testid': 'lambda2' },
            `λ₂ = ${fmt(last.lambda2, 3)} · step ${fmt(last.step, 3)} · epoch ${last.epochId} · error ${last.error.toExponential(2)} · ${last.converged ? 'converged' : 'NOT converged'}`,
          ),
          table(
            ['member', 'reachable', 'divergence', 'error', ...last.vectorKeys],
            last.members.map((m: Json) => [
              m.member,
              m.reachable ? 'yes' : 'no',
              m.divergence.toExponential(2),
              m.error.toExponential(2),
              ...m.final.map((v: number) => fmt(v, 3)),
            ]),
          ),
        )
      : h('p', {}, 'no epoch yet'),
    h('h3', {}, 'last epochs'),
    table(
      ['epoch', 'at', 'time (s)', 'rounds', 'error', 'converged'],
      c.epochs
        .slice()
        .reverse()
        .map((e: Json) => [
          e.epochId,
          time(e.atMs),
          fmt(e.timeSeconds, 3),
          String(e.rounds),
          e.error.toExponential(2),
          e.converged ? 'yes' : 'no',
        ]),
    ),
  );
}

/** Reasons typed on the rollouts page, per plan: a live refresh redraws the page and must not wipe them. */
const rolloutReasons = new Map<string, string>();
/** Which actions apply to a run in each status (the service refuses the others anyway). */
const actionsFor: Record<string, string[]> = {
  running: ['promote', 'pause', 'abort'],
  paused: ['promote', 'abort'],
  waiting_approval: ['approve', 'abort'],
  aborted: ['retry'],
};

async function rollouts(): Promise<HTMLElement> {
  const list = await api('rollouts');
  const section = h('section', { 'data-testid': 'rollouts' });
  if (list.plans.length === 0) {
    section.append(h('p', {}, 'No rollout plans yet: triad rollout create -f plan.yaml; triad rollout start <name>.'));
    return section;
  }
  section.append(
    table(
      ['plan', 'run', 'status', 'step', 'waiting for', 'started by'],
      list.plans.map((p: Json) => [
        p.name,
        p.run ? `#${p.run.id}` : '—',
        p.run ? h('span', { class: statusClass(p.run.status) }, p.run.status) : 'not started',
        p.run ? `${Math.min(p.run.stepIndex + 1, p.run.stepCount)}/${p.run.stepCount}` : `${p.steps} steps`,
        p.run ? p.run.waitingFor.text : '—',
        p.run?.startedBy ?? '—',
      ]),
      { 'data-testid': 'rollout-list' },
    ),
  );
  for (const p of list.plans as Json[]) if (p.run) section.append(await rolloutPanel(p.name));
  return section;
}

const statusClass = (status: string) =>
  status === 'completed' ? 'OK' : status === 'aborted' || status === 'aborting' ? 'FAIL' : 'WARN';

async function rolloutPanel(name: string): Promise<HTMLElement> {
  const r = await api(`rollout?name=${encodeURIComponent(name)}`);
  const run = r.run as Json;
  const panel = h(
    'div',
    { class: 'panel', 'data-testid': `rollout-${name}` },
    h('h3', {}, `${name} · run #${run.id} · `, h('span', { class: statusClass(run.status) }, run.status)),
    h(
      'p',
      { 'data-testid': `rollout-${name}-waiting`, 'data-kind': run.waitingFor.kind },
      `waiting for: ${run.waitingFor.text}`,
    ),
  );
  if (run.message && run.message !== run.waitingFor.text) panel.append(h('p', {}, run.message));
  if (run.failure) panel.append(h('p', { class: 'error' }, `failure: ${JSON.stringify(run.failure)}`));
  panel.append(
    table(
      ['#', 'kind', 'step', 'state', 'by', 'note', 'version'],
      run.steps.map((s: Json) => {
        const isCurrent = s.index === run.stepIndex && run.status !== 'completed' && run.status !== 'aborted';
        return [
          `${s.index + 1}${isCurrent ? ' ▶' : ''}`,
          s.kind,
          s.description,
          h(
            'span',
            { class: s.status === 'completed' ? 'OK' : isCurrent ? 'WARN' : '' },
            isCurrent ? run.status : s.status,
          ),
          s.actor ?? '—',
          s.note ?? '—',
          s.version === undefined ? '—' : `v${s.version}`,
        ];
      }),
      { 'data-testid': `rollout-${name}-steps` },
    ),
  );
  panel.append(h('h4', {}, 'analysis over time'), analysisView(r.measurements as Json[]));
  if (session.role === 'operator') panel.append(rolloutActions(name, run));
  panel.append(
    h('h4', {}, 'events'),
    table(
      ['at (UTC)', 'event', 'message'],
      (r.events as Json[])
        .slice(-15)
        .reverse()
        .map((e) => [time(e.at), e.kind, e.message]),
      { 'data-testid': `rollout-${name}-events` },
    ),
  );
  return panel;
}

/** Each check's measurements as a row of coloured marks, oldest to newest, with the newest value in words. */
function analysisView(measurements: Json[]): HTMLElement {
  if (measurements.length === 0) return h('p', {}, 'no measurements yet');
  const checks = new Map<string, Json[]>();
  for (const m of measurements) {
    const key = `${m.template}/${m.check}`;
    checks.set(key, [...(checks.get(key) ?? []), m]);
  }
  return table(
    ['check', 'last 40 (oldest → newest)', 'latest', 'value', 'at (UTC)', 'detail'],
    [...checks.entries()].map(([key, ms]) => {
      const last = ms[ms.length - 1]!;
      return [
        key,
        h(
          'span',
          { class: 'marks' },
          ...ms
            .slice(-40)
            .map((m) =>
              h(
                'span',
                { class: `mark ${m.phase}`, title: `${time(m.at)} ${m.phase} ${m.value ?? ''} ${m.detail}` },
                m.phase === 'PASS' ? '●' : m.phase === 'FAIL' ? '✕' : '○',
              ),
            ),
        ),
        h('span', { class: last.phase === 'PASS' ? 'OK' : last.phase === 'FAIL' ? 'FAIL' : 'WARN' }, last.phase),
        last.value === null ? '—' : fmt(last.value, 4),
        time(last.at),
        last.detail,
      ];
    }),
    { 'data-testid': 'rollout-analysis' },
  );
}

function rolloutActions(name: string, run: Json): HTMLElement {
  const actions = actionsFor[run.status] ?? [];
  const box = h('div', { class: 'actions' });
  if (actions.length === 0) return box;
  const reason = h('input', {
    type: 'text',
    placeholder: 'reason (required)',
    'data-testid': `rollout-${name}-reason`,
    class: 'mutate',
  }) as HTMLInputElement;
  reason.value = rolloutReasons.get(name) ?? '';
  reason.addEventListener('input', () => rolloutReasons.set(name, reason.value));
  const out = h('p', { 'data-testid': `rollout-${name}-result` });
  box.append(reason, ' ');
  for (const action of actions) {
    const b = h('button', { type: 'button', class: 'mutate', 'data-testid': `rollout-${name}-${action}` }, action);
    b.addEventListener('click', () => {
      out.textContent = 'working…';
      out.className = '';
      void api('rollout', { body: { plan: name, action, reason: reason.value } }).then(
        (r) => {
          rolloutReasons.delete(name);
          out.textContent = `${action}: run #${r.id} is ${r.status}`;
          void render();
        },
        (e: Error) => {
          out.textContent = e.message;
          out.className = 'error';
        },
      );
    });
    box.append(b, ' ');
  }
  box.append(out);
  return box;
}

async function historyPage(): Promise<HTMLElement> {
  const [hist, audit] = await Promise.all([api('history?limit=50'), api('audit')]);
  const section = h(
    'section',
    {},
    h(
      'p',
      { 'data-testid': 'audit', class: audit.ok ? 'OK' : 'FAIL' },
      audit.ok
        ? `audit chain intact (${audit.rows} rows)`
        : `audit chain BROKEN at row ${audit.brokenAt}: ${audit.reason}`,
    ),
  );
  const out = h('div', { 'data-testid': 'history-result' });
  const rows = hist.versions.map((v: Json) => {
    const cells: Array<Node | string> = [
      `v${v.version}${v.label ? ` (${v.label})` : ''}`,
      time(v.createdAtMs),
      v.createdBy,
      v.command,
      v.reason ?? '—',
      v.correlationId,
      v.changes.map((c: Json) => `${c.action} ${c.subject}@${c.instance ?? '*'}`).join(', ') || '—',
    ];
    if (session.role === 'operator') {
      const b = h('button', { type: 'button', class: 'mutate' }, 'rollback to here…');
      b.addEventListener('click', () => void previewRollback(v.version, out));
      cells.push(b);
    }
    return cells;
  });
  section.append(
    table(
      [
        'version',
        'created (UTC)',
        'by',
        'command',
        'reason',
        'correlation id',
        'changes',
        ...(session.role === 'operator' ? [''] : []),
      ],
      rows,
      { 'data-testid': 'history' },
    ),
  );
  const from = h('input', { type: 'number', placeholder: 'from', style: 'width:5rem' }) as HTMLInputElement;
  const to = h('input', { type: 'number', placeholder: 'to', style: 'width:5rem' }) as HTMLInputElement;
  const diff = h('button', { type: 'button' }, 'diff');
  diff.addEventListener('click', () => {
    void api(`diff?from=${from.value}&to=${to.value}`).then(
      (d) =>
        out.replaceChildren(
          h('h3', {}, `v${d.from} → v${d.to}`),
          table(
            ['action', 'subject', 'instance', 'from', 'to'],
            d.changes.map((c: Json) => [
              c.action,
              c.subject,
              c.instance ?? '*',
              String(c.fromPercentage ?? ''),
              String(c.toPercentage ?? ''),
            ]),
          ),
        ),
      (e: Error) => out.replaceChildren(h('p', { class: 'error' }, e.message)),
    );
  });
  section.append(h('div', { class: 'panel' }, 'diff two versions: ', from, ' ', to, ' ', diff), out);
  return section;
}

async function previewRollback(version: number, out: HTMLElement): Promise<void> {
  const mutation = { kind: 'rollback', to: String(version) };
  const reason = h('input', { type: 'text', placeholder: 'reason (required)', class: 'mutate' }) as HTMLInputElement;
  try {
    const plan = await api('mutate', { body: { mutation, reason: 'preview', dryRun: true } });
    const go = h('button', { type: 'button', class: 'mutate' }, `Roll back to v${version}`);
    go.addEventListener('click', () => {
      void api('mutate', { body: { mutation, reason: reason.value } }).then(
        (r) => out.replaceChildren(h('p', {}, `rolled back: v${r.plan.beforeVersion} → v${r.plan.afterVersion}`)),
        (e: Error) => out.append(h('p', { class: 'error' }, e.message)),
      );
    });
    out.replaceChildren(
      h('h3', {}, `dry run: rollback to v${version}`),
      table(
        ['action', 'subject', 'instance'],
        plan.plan.transitions.map((t: Json) => [t.action, t.subject, t.instance ?? '*']),
      ),
      h('div', {}, reason, ' ', go),
    );
  } catch (e) {
    out.replaceChildren(h('p', { class: 'error' }, (e as Error).message));
  }
}

async function alerts(): Promise<HTMLElement> {
  const a = await api('alerts');
  return h(
    'section',
    {},
    h('h3', {}, 'active automatic rollbacks'),
    a.activeRollbacks.length === 0
      ? h('p', {}, 'none')
      : table(
          ['fired', 'layer', 'instance', 'action'],
          a.activeRollbacks.map((r: Json) => [time(Date.parse(r.firedAt)), r.layer, r.instance, r.action]),
        ),
    h('h3', {}, 'alert history'),
    a.alerts.length === 0
      ? h('p', {}, 'no alerts yet')
      : table(
          ['fired', 'alert', 'severity', 'layer', 'instance', 'value', 'threshold', 'action'],
          a.alerts.map((r: Json) => [
            time(r.firedAtMs),
            r.alert,
            r.severity,
            r.layer ?? '—',
            r.instance ?? '—',
            fmt(r.value),
            fmt(r.threshold),
            r.action,
          ]),
        ),
  );
}

const renderers: Record<Page, () => Promise<HTMLElement> | HTMLElement> = {
  overview,
  matrix,
  consensus: consensusPage,
  rollouts,
  history: historyPage,
  alerts,
};

function current(): Page {
  const name = window.location.hash.slice(1);
  return (pages as readonly string[]).includes(name) ? (name as Page) : 'overview';
}

let rendering = Promise.resolve();
function render(): Promise<void> {
  rendering = rendering.then(async () => {
    const page = current();
    document
      .querySelectorAll('#nav a')
      .forEach((a) => a.classList.toggle('current', a.getAttribute('href') === `#${page}`));
    try {
      const content = await renderers[page]();
      content.setAttribute('data-page', page);
      document.getElementById('page')!.replaceChildren(h('h2', {}, titles[page]), content);
    } catch (e) {
      document.getElementById('page')!.replaceChildren(h('p', { class: 'error' }, (e as Error).message));
    }
  });
  return rendering;
}

/**
 * The event stream, read with fetch rather than EventSource: EventSource retries at a fixed pace and hides the
 * status, so a 401 (session over) could not send the page back to sign-in. Reconnects with capped exponential
 * backoff; the badge says "stale" once no event or heartbeat arrived for three heartbeats.
 */
function live(): void {
  const badge = document.getElementById('live')!;
  let lastSeen = Date.now();
  let delayMs = 500;
  let pending: number | undefined;
  const set = (state: string, text: string) => {
    badge.dataset.state = state;
    badge.textContent = text;
  };
  setInterval(() => {
    if (Date.now() - lastSeen > 15_000) set('stale', `stale since ${new Date(lastSeen).toLocaleTimeString()}`);
  }, 1_000);
  const refresh = (pages: Page[]) => {
    if (!pages.includes(current()) || pending !== undefined) return;
    const redraw = () => {
      // Someone typing a reason keeps their cursor: the redraw waits until they leave the field.
      const active = document.activeElement;
      if (active instanceof HTMLInputElement && document.getElementById('page')!.contains(active)) {
        pending = window.setTimeout(redraw, 500);
        return;
      }
      pending = undefined;
      void render();
    };
    pending = window.setTimeout(redraw, 100);
  };
  const connect = async () => {
    try {
      const res = await fetch('/console/api/events', { credentials: 'same-origin' });
      if (res.status === 401) toSignIn('expired');
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          lastSeen = Date.now();
          delayMs = 500;
          set('live', 'live');
          if (type === 'version') refresh(['overview', 'matrix', 'history', 'alerts']);
          // Epochs bring analysis measurements with them, so an open rollouts page follows them too.
          if (type === 'epoch') refresh(['overview', 'consensus', 'rollouts']);
          if (type === 'rollout') refresh(['rollouts', 'overview']);
        }
      }
      throw new Error('events: stream ended');
    } catch {
      set(
        Date.now() - lastSeen > 15_000 ? 'stale' : 'reconnecting',
        `reconnecting in ${Math.round(delayMs / 1000)} s…`,
      );
      setTimeout(() => void connect(), delayMs);
      delayMs = Math.min(delayMs * 2, 15_000);
    }
  };
  void connect();
}

async function main(): Promise<void> {
  session = (await api('session')) as unknown as Session;
  document.getElementById('who')!.textContent = `${session.role} · ${session.name}`;
  document.getElementById('nav')!.replaceChildren(...pages.map((p) => h('a', { href: `#${p}` }, titles[p])));
  document.getElementById('logout')!.addEventListener('click', () => {
    void api('logout', { body: {} }).finally(() => toSignIn('revoked'));
  });
  window.addEventListener('hashchange', () => {
    selected = undefined;
    void render();
  });
  // Sends the page back to sign-in when the session ends, even if nothing else asks the server.
  setTimeout(() => toSignIn('expired'), Math.max(0, session.expiresAtMs - Date.now()));
  live();
  await render();
}

void main();
