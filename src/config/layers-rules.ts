import { layerIds, type LayerId } from './layer-ids.js';

/** The parts of a parsed layers.yaml the cross-field rules read (zod has checked each field on its own already). */
interface LayersFile {
  layers: {
    id: LayerId;
    priority: number;
    requires?: LayerId[];
    amplification?: unknown;
    frameworks: { id: string }[];
  }[];
  stages: { stage: number; layers: LayerId[] }[];
}

/** Rn requires R(n−1) on the same instance unless the file says otherwise (DESIGN §2). */
export function defaultRequires(id: LayerId): LayerId[] {
  const index = layerIds.indexOf(id);
  return index > 0 ? [layerIds[index - 1] as LayerId] : [];
}

interface PathIssue {
  path: (string | number)[];
  message: string;
}

/** Rules across fields of layers.yaml (duplicates, cycles, stages); each issue carries the YAML path it is about. */
export function crossFieldIssues(file: LayersFile): PathIssue[] {
  const issues: PathIssue[] = [];
  const indexOf = new Map<LayerId, number>();
  file.layers.forEach((layer, i) => {
    const first = indexOf.get(layer.id);
    if (first !== undefined)
      issues.push({ path: ['layers', i, 'id'], message: `duplicate layer "${layer.id}" (first at layers.${first})` });
    else indexOf.set(layer.id, i);
    if (layer.id === 'R1' && layer.amplification) {
      issues.push({
        path: ['layers', i, 'amplification'],
        message: 'R1 is the baseline: its ratio is 1 by definition',
      });
    }
    if (layer.id !== 'R1' && !layer.amplification) {
      issues.push({
        path: ['layers', i],
        message: `${layer.id} needs an amplification band (expected, acceptable, alert_below)`,
      });
    }
  });
  for (const id of layerIds) {
    if (!indexOf.has(id)) issues.push({ path: ['layers'], message: `layer ${id} is missing (expected R1 through R6)` });
  }

  const priorities = new Map<number, LayerId>();
  const frameworks = new Map<string, string>();
  file.layers.forEach((layer, i) => {
    const other = priorities.get(layer.priority);
    if (other !== undefined)
      issues.push({
        path: ['layers', i, 'priority'],
        message: `priority ${layer.priority} is already used by ${other}`,
      });
    else priorities.set(layer.priority, layer.id);
    layer.requires?.forEach((req, j) => {
      if (req === layer.id)
        issues.push({ path: ['layers', i, 'requires', j], message: `${layer.id} cannot require itself` });
    });
    layer.frameworks.forEach((f, j) => {
      const at = ['layers', i, 'frameworks', j, 'id'];
      if (!f.id.startsWith(`${layer.id}_`))
        issues.push({ path: at, message: `framework "${f.id}" must start with its layer "${layer.id}_"` });
      const seen = frameworks.get(f.id);
      if (seen !== undefined) issues.push({ path: at, message: `duplicate framework "${f.id}" (first at ${seen})` });
      else frameworks.set(f.id, at.join('.'));
    });
  });

  const cycle = findCycle(file.layers.map((l) => ({ id: l.id, requires: l.requires ?? defaultRequires(l.id) })));
  if (cycle) {
    const at = indexOf.get(cycle[0] as LayerId) ?? 0;
    issues.push({ path: ['layers', at, 'requires'], message: `dependency cycle: ${cycle.join(' → ')}` });
  }

  const stageOf = new Map<LayerId, number>();
  const stageNumbers = new Set<number>();
  file.stages.forEach((s, i) => {
    if (stageNumbers.has(s.stage)) issues.push({ path: ['stages', i, 'stage'], message: `duplicate stage ${s.stage}` });
    stageNumbers.add(s.stage);
    s.layers.forEach((l, j) => {
      if (stageOf.has(l))
        issues.push({ path: ['stages', i, 'layers', j], message: `${l} is already in stage ${stageOf.get(l)}` });
      else stageOf.set(l, s.stage);
    });
  });
  for (const id of indexOf.keys()) {
    if (!stageOf.has(id)) issues.push({ path: ['stages'], message: `layer ${id} is in no rollout stage` });
  }
  // A layer may only require layers that go out in the same or an earlier stage, or its gate could never pass.
  file.layers.forEach((layer, i) => {
    const own = stageOf.get(layer.id) ?? 0;
    (layer.requires ?? defaultRequires(layer.id)).forEach((req, j) => {
      if ((stageOf.get(req) ?? 0) > own) {
        issues.push({
          path: ['layers', i, 'requires', j],
          message: `${layer.id} (stage ${own}) requires ${req}, which goes out later (stage ${stageOf.get(req)})`,
        });
      }
    });
  });
  return issues;
}

/** The first dependency cycle found, as a closed walk (`R2 → R3 → R2`), or undefined. */
function findCycle(graph: { id: LayerId; requires: readonly LayerId[] }[]): LayerId[] | undefined {
  const edges = new Map(graph.map((n) => [n.id, n.requires]));
  const state = new Map<LayerId, 'visiting' | 'done'>();
  const stack: LayerId[] = [];
  const visit = (id: LayerId): LayerId[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const next of edges.get(id) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const node of graph) {
    const found = visit(node.id);
    if (found) return found;
  }
  return undefined;
}
