import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { unaryHandler } from '../../protocol/index.js';
import type { Caller, Rollouts, RunView } from '../../rollouts/index.js';
import { callContext, newTraceId, TriadError, type Logger } from '../../shared/index.js';

interface SourceFileWire {
  file: string;
  text: Buffer;
}
interface Reply {
  status: string;
  step_index: number;
  step_count: number;
  view_json: string;
}

/** triad.v1.Rollouts: decode, call the rollouts component with the verified caller, encode. No policy here. */
export function rolloutsService(deps: { log: Logger; rollouts: Rollouts }): UntypedServiceImplementation {
  const { log, rollouts } = deps;
  const caller = (sent: string): Caller => {
    const ctx = callContext.getStore();
    return {
      actor: ctx?.caller?.subject ?? 'unknown',
      ...(sent ? { onBehalfOf: sent } : {}),
      correlationId: ctx?.correlation_id ?? newTraceId(),
    };
  };
  const ofRun = (view: RunView): Reply => ({
    status: view.status,
    step_index: view.stepIndex,
    step_count: view.stepCount,
    view_json: JSON.stringify(view),
  });
  const named = (name: string): string => {
    if (!/^[a-z0-9][a-z0-9-]{0,47}$/.test(name))
      throw new TriadError(
        'INPUT_INVALID',
        `"${name.slice(0, 64)}" is not a rollout name (lower-case letters, digits, "-")`,
      );
    return name;
  };
  const source = (f: SourceFileWire | null | undefined) => {
    if (!f) throw new TriadError('INPUT_INVALID', 'no plan file sent');
    return { file: f.file, text: Buffer.from(f.text).toString('utf8') };
  };
  return {
    Create: unaryHandler<{ plan: SourceFileWire; templates: SourceFileWire[]; actor: string }, Reply>(
      log,
      'Rollouts.Create',
      async (req) => {
        const view = await rollouts.create(source(req.plan), req.templates.map(source), caller(req.actor));
        return { status: 'stored', step_index: 0, step_count: view.steps.length, view_json: JSON.stringify(view) };
      },
    ),
    Start: unaryHandler<{ name: string; actor: string }, Reply>(log, 'Rollouts.Start', async (req) =>
      ofRun(await rollouts.start(named(req.name), caller(req.actor))),
    ),
    Status: unaryHandler<{ name: string }, Reply>(log, 'Rollouts.Status', async (req) =>
      ofRun(await rollouts.status(named(req.name))),
    ),
    List: unaryHandler<object, Reply>(log, 'Rollouts.List', async () => {
      const list = await rollouts.list();
      return { status: 'ok', step_index: 0, step_count: 0, view_json: JSON.stringify(list) };
    }),
    History: unaryHandler<{ name: string }, Reply>(log, 'Rollouts.History', async (req) => {
      const history = await rollouts.history(named(req.name));
      return { status: 'ok', step_index: 0, step_count: 0, view_json: JSON.stringify(history) };
    }),
    Promote: unaryHandler<{ name: string; full: boolean; actor: string }, Reply>(log, 'Rollouts.Promote', async (req) =>
      ofRun(await rollouts.promote(named(req.name), req.full, caller(req.actor))),
    ),
    Approve: unaryHandler<{ name: string; reason: string; actor: string }, Reply>(
      log,
      'Rollouts.Approve',
      async (req) => ofRun(await rollouts.approve(named(req.name), req.reason, caller(req.actor))),
    ),
    Pause: unaryHandler<{ name: string; reason: string; actor: string }, Reply>(log, 'Rollouts.Pause', async (req) =>
      ofRun(await rollouts.pause(named(req.name), req.reason || undefined, caller(req.actor))),
    ),
    Abort: unaryHandler<{ name: string; reason: string; actor: string }, Reply>(log, 'Rollouts.Abort', async (req) =>
      ofRun(await rollouts.abort(named(req.name), req.reason, caller(req.actor))),
    ),
    Retry: unaryHandler<{ name: string; actor: string }, Reply>(log, 'Rollouts.Retry', async (req) =>
      ofRun(await rollouts.retry(named(req.name), caller(req.actor))),
    ),
  };
}
