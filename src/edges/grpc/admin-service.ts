import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { isLayerId, layerIds, type LayerId } from '../../config/index.js';
import type { CanaryJudge } from '../../canary/index.js';
import type { Consensus } from '../../consensus/index.js';
import type { Layers } from '../../layer-manager/index.js';
import {
  fromWireFault,
  fromWireMutation,
  serverStreamHandler,
  toWireAuditVerification,
  toWireCanary,
  toWireErrorDetails,
  toWireFaults,
  toWireHealth,
  toWireInstanceApply,
  toWireOutcome,
  toWirePlan,
  toWireR6,
  toWireResult,
  toWireVersion,
  unaryHandler,
  type ConsoleLoginReply,
  type ConsoleLoginRequest,
  type CanaryJudgementReply,
  type EpochOutcome,
  type ForceConsensusSyncRequest,
  type HealthReport,
  type InjectFaultReply,
  type InjectFaultRequest,
  type JudgeCanaryRequest,
  type MutationEvent,
  type MutationRequest,
  type R6Result,
  type SetTestMeasurementRequest,
  type VerifyAuditReply,
  type VersionSummary,
} from '../../protocol/index.js';
import type { NodeRuntime } from '../../runtime/index.js';
import type { AuditEntry } from '../../storage/index.js';
import { callContext, newTraceId, TriadError, type Logger } from '../../shared/index.js';

export interface AdminServiceDeps {
  log: Logger;
  layers: Pick<Layers, 'parse' | 'mutate' | 'checkHealth' | 'history' | 'latest' | 'verifyAudit' | 'audit'>;
  consensus: Pick<Consensus, 'runEpoch' | 'setTestMeasurement'>;
  runtime: Pick<NodeRuntime, 'runR6' | 'setFault'>;
  /** Mints a console sign-in URL for the verified caller; absent when this node serves no console. */
  consoleLogin?: (
    caller: { role: string; name: string },
    request: { role: string; ttlMs: number },
  ) => ConsoleLoginReply;
  /** The cluster's instances: a forced sync naming others is refused before it is audited. */
  members: readonly string[];
  /** Absent: JudgeCanary answers UNIMPLEMENTED-like INTERNAL (nodes always wire it; some tests do not need it). */
  canary?: CanaryJudge;
}

/** History pages: 20 by default, at most 1,000 versions per call. */
const defaultHistoryLimit = 20;
const maxHistoryLimit = 1_000;

/** triad.v1.Admin: everything the CLI does. Decode, call the component, encode; no policy lives here. */
export function adminService(deps: AdminServiceDeps): UntypedServiceImplementation {
  const { log, layers, consensus, runtime, canary } = deps;
  return {
    Mutate: serverStreamHandler<MutationRequest, MutationEvent>(log, 'Mutate', async (request, emit) => {
      const { input, options } = fromWireMutation(request);
      const { actor: sentActor, ...rest } = options;
      try {
        const result = await layers.mutate(layers.parse(input), {
          ...rest,
          ...callerOf(sentActor),
          correlationId: callContext.getStore()?.correlation_id ?? newTraceId(),
          onCommitted: (plan) => emit({ committed: toWirePlan(plan) }),
          onProgress: (p) => emit({ progress: toWireInstanceApply(p) }),
        });
        emit({ result: toWireResult(result) });
      } catch (err) {
        throw err instanceof TriadError ? toWireErrorDetails(err) : err;
      }
    }),
    CheckHealth: unaryHandler<{ layers: string[] }, HealthReport>(log, 'CheckHealth', async (request) =>
      toWireHealth(await layers.checkHealth(layerList(request.layers))),
    ),
    History: unaryHandler<{ limit: number }, { versions: VersionSummary[] }>(log, 'History', async (request) => {
      const limit = request.limit === 0 ? defaultHistoryLimit : request.limit;
      if (!Number.isInteger(limit) || limit < 1 || limit > maxHistoryLimit)
        throw new TriadError(
          'INPUT_INVALID',
          `--limit must be from 1 to ${maxHistoryLimit}, received ${request.limit}`,
        );
      return { versions: (await layers.history(limit)).map(toWireVersion) };
    }),
    GetDesiredState: unaryHandler<object, { latest: VersionSummary }>(log, 'GetDesiredState', async () => ({
      latest: toWireVersion({ row: await layers.latest(), changes: [] }),
    })),
    VerifyAudit: unaryHandler<object, VerifyAuditReply>(log, 'VerifyAudit', async () =>
      toWireAuditVerification(await layers.verifyAudit()),
    ),
    ForceConsensusSync: unaryHandler<ForceConsensusSyncRequest, EpochOutcome>(
      log,
      'ForceConsensusSync',
      async (req) => {
        // Bad input is refused before anything is written; then audited before it takes effect: if the row cannot
        // be written, no epoch runs.
        const unknown = req.instances.filter((i) => !deps.members.includes(i));
        if (unknown.length > 0)
          throw new TriadError(
            'INPUT_INVALID',
            `unknown instance${unknown.length > 1 ? 's' : ''} ${unknown
              .slice(0, 5)
              .map((u) => `"${u.slice(0, 64)}"`)
              .join(', ')} (cluster: ${deps.members.join(', ')})`,
          );
        const flags = req.instances.length > 0 ? ` --instances ${req.instances.join(',')}` : '';
        await layers.audit(actionEntry(`triad force-consensus-sync${flags}`, { instances: req.instances }));
        return toWireOutcome(await consensus.runEpoch(req.instances.length > 0 ? { instances: req.instances } : {}));
      },
    ),
    SetTestMeasurement: unaryHandler<SetTestMeasurementRequest, object>(log, 'SetTestMeasurement', (req) => {
      consensus.setTestMeasurement(req.value);
      return {};
    }),
    RunR6Orchestration: unaryHandler<{ actor: string }, R6Result>(log, 'RunR6Orchestration', async (req) => {
      // Audited where the operator's call arrives, before it runs or is forwarded to the leader. The leader does not
      // audit a node's forward again: the node that forwarded it wrote the row, naming the operator.
      if (callContext.getStore()?.caller?.role !== 'node')
        await layers.audit(actionEntry('triad run-r6-orchestration', {}, req.actor));
      return toWireR6(await runtime.runR6());
    }),
    JudgeCanary: unaryHandler<JudgeCanaryRequest, CanaryJudgementReply>(log, 'JudgeCanary', async (request) => {
      if (!canary) throw new TriadError('INTERNAL', 'this node has no canary judge wired');
      return toWireCanary(
        await canary.judge({
          layer: request.layer,
          instance: request.instance,
          control: request.control,
          windowMs: request.window_ms,
        }),
      );
    }),
    InjectFault: unaryHandler<InjectFaultRequest, InjectFaultReply>(log, 'InjectFault', async (request) => {
      if (!isLayerId(request.layer))
        throw new TriadError('INPUT_INVALID', `unknown layer "${request.layer}" (layers: ${layerIds.join(', ')})`);
      return toWireFaults(
        await runtime.setFault(request.instance, { layer: request.layer, ...fromWireFault(request) }),
      );
    }),
    ConsoleLogin: unaryHandler<ConsoleLoginRequest, ConsoleLoginReply>(log, 'ConsoleLogin', (request) => {
      if (!deps.consoleLogin) throw new TriadError('NOT_FOUND', 'this node serves no console');
      const caller = callContext.getStore()?.caller;
      if (!caller) throw new TriadError('UNAUTHENTICATED', 'no verified caller');
      return deps.consoleLogin(caller, { role: request.role, ttlMs: request.ttl_ms });
    }),
  };
}

/**
 * Who acts, for the audit log: the caller the authorisation edge verified (its certificate subject); what the client
 * said of its user is kept as on_behalf_of, never taken as the actor.
 */
function callerOf(sent: string | undefined): { actor: string; onBehalfOf?: string } {
  const caller = callContext.getStore()?.caller;
  return { actor: caller?.subject ?? 'unknown', ...(sent ? { onBehalfOf: sent } : {}) };
}

/** The audit row of an admin action that changes no desired state: written before the action, so "requested". */
function actionEntry(command: string, args: Record<string, unknown>, sentActor?: string): AuditEntry {
  const { actor, onBehalfOf } = callerOf(sentActor);
  const context = callContext.getStore();
  return {
    actor,
    on_behalf_of: onBehalfOf ?? null,
    command,
    args,
    correlation_id: context?.correlation_id ?? context?.trace_id ?? newTraceId(),
    outcome: 'requested',
  };
}

/** The layers check-health is asked about: all of them for an empty list. */
function layerList(requested: readonly string[]): LayerId[] {
  const unknown = requested.filter((l) => !isLayerId(l));
  if (unknown.length > 0)
    throw new TriadError(
      'INPUT_INVALID',
      `unknown layer ${unknown
        .slice(0, 5)
        .map((u) => `"${u.slice(0, 64)}"`)
        .join(
          ', ',
        )}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''} (layers: ${layerIds.join(', ')}, or all)`,
    );
  return requested as LayerId[];
}
