import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import { formatDurationMs, parseDurationMs } from '../../config/index.js';
import type { Connections } from '../../connections/index.js';
import { callUnary } from '../../protocol/index.js';
import { templatesNamed, type PlanView, type RunView, type SourceFile } from '../../rollouts/index.js';
import { TriadError } from '../../shared/index.js';
import { loadCliConfig, parseTarget, withConnections } from '../cluster-client.js';
import {
  configOption,
  jsonOption,
  optionalString,
  requireString,
  targetOption,
  writeJson,
  type CliIO,
  type Command,
  type ParsedValues,
} from '../command.js';
import { gateOnPrecheck } from '../mutation.js';
import { formatTable } from '../table.js';
import { databaseUrlOption } from './database-url.js';
import { activationPrecheck } from './precheck.js';
import { runBacktest } from './rollout-backtest.js';

interface Reply {
  status: string;
  step_index: number;
  step_count: number;
  view_json: string;
}

const actions = [
  'create',
  'start',
  'status',
  'promote',
  'approve',
  'pause',
  'abort',
  'retry',
  'list',
  'history',
  'backtest',
] as const;
type Action = (typeof actions)[number];
const maxFileBytes = 60 * 1024;

/** Exit codes of `status --watch/--timeout` for CI: done, failed, waiting for a human. */
export const statusExit = { completed: 0, aborted: 1, paused: 3, waiting_approval: 3 } as const;

export const rolloutCommand: Command = {
  name: 'rollout',
  usage: [
    'triad rollout create -f plan.yaml [--analysis-dir DIR]',
    '       triad rollout start NAME [--skip-precheck --reason "…"]',
    '       triad rollout promote [--full]|pause|retry NAME',
    '       triad rollout approve|abort NAME --reason "…"',
    '       triad rollout status NAME [--watch] [--timeout D]',
    '       triad rollout list | history NAME',
    '       triad rollout backtest -f plan.yaml --from T1 [--to T2] [--database-url URL]',
  ].join('\n'),
  positionals: [
    { name: 'action', description: actions.join(', ') },
    { name: 'name', description: 'the plan (its `name:`)' },
  ],
  options: {
    file: { type: 'string', short: 'f', value: 'plan.yaml', description: 'create, backtest: the plan file' },
    from: {
      type: 'string',
      value: 'time',
      description: 'backtest: replay from this time (ISO 8601, or ago: -7d, -90m)',
    },
    to: {
      type: 'string',
      value: 'time',
      description:
        'backtest: the history ends here (default now); exit 0 would pass, 1 abort, 3 pause or too little history',
    },
    ...databaseUrlOption,
    'analysis-dir': {
      type: 'string',
      value: 'dir',
      description: "create: where the plan's analysis templates are (default: ../analysis beside the plan)",
    },
    full: { type: 'boolean', description: 'promote: skip every wait, pause, analysis and approval left' },
    'skip-precheck': {
      type: 'boolean',
      description: 'start: do not run the precheck first (needs --reason; recorded in the audit log)',
    },
    reason: { type: 'string', value: 'text', description: 'approve, abort (required), pause: why (audited)' },
    watch: {
      type: 'boolean',
      short: 'w',
      description: 'status: redraw as the run moves until it ends or waits for a human',
    },
    timeout: {
      type: 'string',
      value: 'duration',
      description:
        'status: wait at most this long (e.g. 10m); exit 0 completed, 1 aborted or timed out, 3 waiting for a human',
    },
    ...jsonOption,
    ...targetOption,
    ...configOption,
  },
  examples: [
    'triad rollout create -f config/rollouts/cascade.yaml',
    'triad rollout start cascade && triad rollout status cascade --watch',
    'triad rollout approve cascade --reason "stage 1 figures in band, go"',
    'triad rollout status cascade --timeout 30m --json   # CI: 0 done, 1 failed, 3 needs a human',
    'triad rollout backtest -f config/rollouts/cascade.yaml --from -7d --json',
  ],
  async run(values, positionals, io) {
    const action = positionals[0] as Action | undefined;
    if (!action || !actions.includes(action))
      throw new TriadError(
        'USAGE',
        `triad rollout needs an action: ${actions.join(', ')} (see 'triad rollout --help')`,
      );
    const name = () => {
      const n = positionals[1];
      if (!n) throw new TriadError('USAGE', `triad rollout ${action} needs the plan's NAME (triad rollout list)`);
      return n;
    };
    const actor = `${userInfo().username}@${hostname()}`;
    switch (action) {
      case 'create': {
        const { plan, templates } = readPlanFiles(values, io);
        const reply = await call(values, io, 'Create', { plan: wire(plan), templates: templates.map(wire), actor });
        const view = JSON.parse(reply.view_json) as PlanView;
        if (values.json) writeJson(io, view);
        else io.stdout.write(renderPlan(view));
        return 0;
      }
      case 'list': {
        const list = JSON.parse((await call(values, io, 'List', {})).view_json) as { plan: PlanView; run?: RunView }[];
        if (values.json) writeJson(io, list);
        else
          io.stdout.write(
            list.length === 0
              ? 'no rollout plans (triad rollout create -f config/rollouts/cascade.yaml)\n'
              : formatTable(
                  ['PLAN', 'STEPS', 'RUN', 'STATUS', 'STEP'],
                  list.map(({ plan, run }) => [
                    plan.name,
                    String(plan.steps.length),
                    run ? `#${run.id}` : '-',
                    run?.status ?? 'never started',
                    run ? `${Math.min(run.stepIndex + 1, run.stepCount)}/${run.stepCount}` : '-',
                  ]),
                ),
          );
        return 0;
      }
      case 'history': {
        const history = JSON.parse((await call(values, io, 'History', { name: name() })).view_json) as {
          runs: RunView[];
          events: { runId: number; kind: string; message: string; at: number }[];
        };
        if (values.json) writeJson(io, history);
        else
          io.stdout.write(
            formatTable(
              ['AT (UTC)', 'RUN', 'EVENT', 'MESSAGE'],
              history.events.map((e) => [iso(e.at), `#${e.runId}`, e.kind, e.message]),
            ),
          );
        return 0;
      }
      case 'status':
        return status(values, io, name());
      case 'backtest':
        return runBacktest(values, io, readPlanFiles(values, io, 'rollout backtest'));
      case 'start':
      case 'promote':
      case 'pause':
      case 'retry':
      case 'approve':
      case 'abort': {
        const method = action.charAt(0).toUpperCase() + action.slice(1);
        let reason =
          action === 'approve' || action === 'abort'
            ? requireString(values, 'reason', `rollout ${action}`)
            : (optionalString(values, 'reason') ?? '');
        // A run changes the cluster from its first step: the same cheap precheck as activate-layers goes first.
        if (action === 'start') reason = await gateOnPrecheck(activationPrecheck, values, io, reason);
        const reply = await call(values, io, method, { name: name(), full: values.full === true, reason, actor });
        const view = JSON.parse(reply.view_json) as RunView;
        if (values.json) writeJson(io, view);
        else io.stdout.write(renderRun(view, io.clock.now()));
        return 0;
      }
    }
  },
};

function wire(f: SourceFile) {
  return { file: f.file, text: Buffer.from(f.text, 'utf8') };
}

/** The plan file and the templates it names, read here so the stored plan never depends on files on the nodes. */
function readPlanFiles(
  values: ParsedValues,
  io: CliIO,
  command = 'rollout create',
): { plan: SourceFile; templates: SourceFile[] } {
  const file = requireString(values, 'file', command);
  const read = (f: string): SourceFile => {
    const absolute = path.resolve(io.cwd, f);
    if (!existsSync(absolute)) throw new TriadError('USAGE', `${f}: file not found`);
    const bytes = statSync(absolute).size;
    if (bytes > maxFileBytes) throw new TriadError('INPUT_INVALID', `${f} is ${bytes} bytes; at most ${maxFileBytes}`);
    const relative = path.relative(io.cwd, absolute);
    return { file: relative.startsWith('..') ? absolute : relative, text: readFileSync(absolute, 'utf8') };
  };
  const plan = read(file);
  const dir = optionalString(values, 'analysis-dir') ?? path.join(path.dirname(file), '..', 'analysis');
  const templates = templatesNamed(plan).flatMap((t) => {
    const candidate = path.join(dir, `${t}.yaml`);
    // A missing template is reported by the node with the plan's file:line, like every other mistake in it.
    return existsSync(path.resolve(io.cwd, candidate)) ? [read(candidate)] : [];
  });
  return { plan, templates };
}

async function call(values: ParsedValues, io: CliIO, method: string, request: object): Promise<Reply> {
  return withRollouts(values, io, (connections, address) =>
    callUnary<object, Reply>(connections.client('Rollouts', address), method, request, { deadlineMs: 15_000 }),
  );
}

/** The --target node, or the first of the config's nodes that can be connected to (as every CLI command does). */
async function withRollouts<T>(
  values: ParsedValues,
  io: CliIO,
  fn: (connections: Connections, address: string) => Promise<T>,
): Promise<T> {
  const target = optionalString(values, 'target');
  const addresses = target
    ? [parseTarget(target)]
    : loadCliConfig(values, io).cluster.instances.map((i) => `${i.host}:${i.grpcPort}`);
  return withConnections(values, io, async (connections) => {
    for (const address of addresses) if (await connections.reach(address, 2_000)) return fn(connections, address);
    throw new TriadError('PEER_UNAVAILABLE', `no node answered: ${addresses.join(', ')}`);
  });
}

async function status(values: ParsedValues, io: CliIO, name: string): Promise<number> {
  const watch = values.watch === true;
  const timeoutText = optionalString(values, 'timeout');
  const timeoutMs = timeoutText === undefined ? undefined : parseDurationMs(timeoutText);
  if (timeoutText !== undefined && (timeoutMs === undefined || timeoutMs <= 0))
    throw new TriadError('USAGE', `--timeout expects a duration like 30s or 10m, received "${timeoutText}"`);
  if (!watch && timeoutMs === undefined) {
    const view = JSON.parse((await call(values, io, 'Status', { name })).view_json) as RunView;
    if (values.json) writeJson(io, view);
    else io.stdout.write(renderRun(view, io.clock.now()));
    return 0;
  }
  const deadline = timeoutMs === undefined ? Infinity : io.clock.now() + timeoutMs;
  return withRollouts(values, io, async (connections, address) => {
    let shown = '';
    let lines = 0;
    for (;;) {
      const reply = await callUnary<object, Reply>(
        connections.client('Rollouts', address),
        'Status',
        { name },
        { deadlineMs: 10_000 },
      );
      const view = JSON.parse(reply.view_json) as RunView;
      const exit = view.status in statusExit ? statusExit[view.status as keyof typeof statusExit] : undefined;
      const timedOut = exit === undefined && io.clock.now() >= deadline;
      if (watch && !values.json) {
        const text = renderRun(view, io.clock.now());
        if (io.interactive) {
          // Redrawn in place: up to the first line of the last drawing, clear to the end of the screen.
          io.stdout.write(`${lines > 0 ? `\x1b[${lines}F\x1b[J` : ''}${text}`);
          lines = text.split('\n').length - 1;
        } else {
          const line = `${iso(io.clock.now())} ${view.plan} #${view.id} ${view.status} step ${Math.min(view.stepIndex + 1, view.stepCount)}/${view.stepCount}${view.currentStep ? ` ${view.currentStep}` : ''}${view.message ? ` — ${view.message}` : ''}\n`;
          if (line.slice(20) !== shown) io.stdout.write(line);
          shown = line.slice(20);
        }
      }
      if (exit !== undefined || timedOut) {
        const message = `timed out after ${timeoutText}: rollout ${name} is ${view.status} at step ${view.stepIndex + 1}/${view.stepCount}`;
        // On a timeout, --json carries the stable error envelope every command uses (code TIMEOUT, exit 1) beside
        // the run as it stood, so CI can tell "still going" from "failed".
        if (values.json)
          writeJson(io, { ...view, timedOut, ...(timedOut ? { error: { code: 'TIMEOUT', message } } : {}) });
        else if (!watch) io.stdout.write(renderRun(view, io.clock.now()));
        if (timedOut) {
          io.stderr.write(`triad: ${message}\n`);
          return new TriadError('TIMEOUT', message).exitCode;
        }
        return exit as number;
      }
      await io.clock.sleep(Math.min(1_000, Math.max(0, deadline - io.clock.now())));
    }
  });
}

function renderPlan(view: PlanView): string {
  const rows = view.steps.map((s) => [
    String(s.index + 1),
    s.description,
    s.detectionBudget && s.detectionBudget.length > 0
      ? s.detectionBudget.map((b) => `${b.layer} ${formatDurationMs(b.budgetMs)} ${b.triggerId}`).join('; ')
      : '-',
  ]);
  return `plan ${view.name} stored (${view.steps.length} steps; analysis throughout: ${view.background.join(', ') || 'none'}; at least ${formatDurationMs(view.minimumDurationMs)} plus approvals)\n${formatTable(['STEP', 'WHAT', 'DETECTION BUDGET (window + for: + evaluation, per trigger)'], rows)}`;
}

export function renderRun(view: RunView, now: number): string {
  const head = `rollout ${view.plan} #${view.id}: ${view.status.replace('_', ' ')} · step ${Math.min(view.stepIndex + 1, view.stepCount)}/${view.stepCount}${view.currentStep && view.status !== 'completed' ? ` (${view.currentStep})` : ''}${view.deadline && view.deadline > now ? ` · ${formatDurationMs(view.deadline - now)} left` : ''}`;
  const lines = [head, `started by ${view.startedBy} at ${iso(view.startedAt)} from v${view.beforeVersion}`];
  if (view.message) lines.push(`  ${view.message}`);
  if (view.failure) lines.push(`  failed check: ${JSON.stringify(view.failure)}`);
  if (view.abortVersion !== undefined)
    lines.push(`  rolled back: v${view.abortVersion} equals the pre-run v${view.beforeVersion}`);
  const mark = (s: string) =>
    s === 'completed' ? '✓' : s === 'skipped' ? '»' : s === 'running' ? '▶' : s === 'failed' ? '✗' : '·';
  const steps = view.steps.map((s) => [
    `${mark(s.status ?? 'pending')} ${s.index + 1}`,
    s.description,
    s.version !== undefined ? `v${s.version}` : '',
    s.actor ? `${s.actor}${s.note ? `: ${s.note}` : ''}` : (s.note ?? ''),
  ]);
  const analysis = view.analysis.map((a) => [`${a.template}/${a.check}`, a.phase, a.detail]);
  return `${lines.join('\n')}\n${formatTable(['STEP', 'WHAT', 'VERSION', 'NOTE'], steps)}${analysis.length > 0 ? formatTable(['CHECK', 'LAST', 'MEASURED'], analysis) : ''}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}
