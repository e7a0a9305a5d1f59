import { parseDurationMs } from '../../config/index.js';
import type { CanaryJudgementReply } from '../../protocol/index.js';
import { TriadError } from '../../shared/index.js';
import { callAdmin } from '../cluster-client.js';
import {
  configOption,
  jsonOption,
  optionalString,
  requireString,
  stringList,
  targetOption,
  writeJson,
  type Command,
} from '../command.js';
import { formatTable } from '../table.js';

export const canaryCommand: Command = {
  name: 'canary',
  usage: 'triad canary judge --layer R3 --instance alpha [--control beta,gamma] [--window 1h] [--json]',
  options: {
    layer: { type: 'string', value: 'Rn', description: 'the layer whose change is judged' },
    instance: { type: 'string', value: 'name', description: 'the canary: the instance running the change' },
    control: {
      type: 'string',
      value: 'names',
      description: 'the control instances, comma-separated (default: every other instance)',
    },
    window: { type: 'string', value: 'duration', description: 'how far back to read operations', default: '1h' },
    ...jsonOption,
    ...targetOption,
    ...configOption,
  },
  positionals: [
    { name: 'judge', description: 'compare the canary cohort with the control cohort: PASS, FAIL or INCONCLUSIVE' },
  ],
  examples: [
    'triad canary judge --layer R3 --instance alpha',
    'triad canary judge --layer R3 --instance alpha --control beta --window 30m --json',
  ],
  async run(values, positionals, io) {
    if (positionals[0] !== 'judge')
      throw new TriadError('USAGE', `expected "triad canary judge", received "triad canary ${positionals.join(' ')}"`);
    const layer = requireString(values, 'layer', 'canary');
    const instance = requireString(values, 'instance', 'canary');
    const control = stringList(values, 'control')
      .flatMap((c) => c.split(','))
      .map((c) => c.trim())
      .filter((c) => c.length > 0);
    const rawWindow = optionalString(values, 'window') ?? '1h';
    const windowMs = parseDurationMs(rawWindow);
    if (windowMs === undefined)
      throw new TriadError('INPUT_INVALID', `--window must be a duration such as 30m or 1h, received "${rawWindow}"`);
    const { response } = await callAdmin<
      { layer: string; instance: string; control: string[]; window_ms: number },
      CanaryJudgementReply
    >(values, io, 'JudgeCanary', { layer, instance, control, window_ms: windowMs }, 30_000);
    if (values.json) writeJson(io, response);
    else io.stdout.write(render(response));
    // A canary that did not PASS is not a go-ahead, whatever the reason: exit 3 like a refused gate, for scripts.
    return response.verdict === 'PASS' ? 0 : 3;
  },
};

function render(r: CanaryJudgementReply): string {
  const num = (v: number, digits = 2): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');
  const rows = r.checks.map((c) => [
    c.metric,
    c.verdict,
    num(c.effect, c.metric === 'error_rate' ? 4 : 2),
    Number.isFinite(c.lower) ? `${num(c.lower, 4)} … ${num(c.upper, 4)}` : '-',
    num(c.threshold),
    num(c.p_value, 4),
  ]);
  return [
    `${r.layer} canary ${r.instance} vs ${r.control.join(', ')} over ${new Date(r.from_ms).toISOString()} … ${new Date(r.to_ms).toISOString()}`,
    `samples: canary ${r.canary_samples}, control ${r.control_samples}; ${Math.round(r.confidence * 100)} % intervals`,
    '',
    formatTable(['CHECK', 'VERDICT', 'EFFECT', 'INTERVAL', 'THRESHOLD', 'P'], rows).trimEnd(),
    '',
    ...r.checks.map((c) => `  ${c.metric}: ${c.reason}`),
    '',
    `verdict: ${r.verdict} (${r.metric})`,
    '',
  ].join('\n');
}
