import { hostname, userInfo } from 'node:os';
import { parseDurationMs } from '../../config/index.js';
import type { InjectFaultReply, InjectFaultRequest } from '../../protocol/index.js';
import { TriadError } from '../../shared/index.js';
import { callAdmin } from '../cluster-client.js';
import {
  configOption,
  jsonOption,
  optionalString,
  requireString,
  targetOption,
  writeJson,
  type Command,
} from '../command.js';

export const injectFaultCommand: Command = {
  name: 'inject-fault',
  usage:
    'triad inject-fault --instance gamma --layer R5 [--burden-scale 0.5] [--error-rate 0.2] [--latency 50ms] | --clear',
  options: {
    instance: { type: 'string', value: 'name', description: 'the instance whose synthetic frameworks misbehave' },
    layer: { type: 'string', value: 'R1…R6', description: 'the layer whose synthetic frameworks misbehave' },
    'burden-scale': {
      type: 'string',
      value: 'x',
      description: 'multiply burden saved per operation (0.5 halves the layer’s ratio)',
    },
    'error-rate': { type: 'string', value: '0-1', description: 'extra share of operations that fail' },
    latency: { type: 'string', value: 'duration', description: 'added to every operation, e.g. 50ms' },
    clear: { type: 'boolean', description: 'remove the fault from that instance and layer' },
    reason: { type: 'string', value: 'text', description: 'why (audited)' },
    ...jsonOption,
    ...targetOption,
    ...configOption,
  },
  examples: [
    'triad inject-fault --instance gamma --layer R5 --burden-scale 0.5',
    'triad inject-fault --instance gamma --layer R5 --clear',
  ],
  async run(values, _p, io) {
    const number = (name: string, min: number, max: number): number | undefined => {
      const raw = optionalString(values, name);
      if (raw === undefined) return undefined;
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
        throw new TriadError('INPUT_INVALID', `--${name} must be a number from ${min} to ${max}, received "${raw}"`);
      }
      return value;
    };
    const latencyRaw = optionalString(values, 'latency');
    const latency = latencyRaw === undefined ? 0 : parseDurationMs(latencyRaw);
    // A fault's latency is awaited per operation: a minute is already far past any gate's window of interest.
    if (latency === undefined || latency > 60_000)
      throw new TriadError(
        'INPUT_INVALID',
        `--latency expects a duration from 0ms to 1m like "50ms" or "1s", received "${latencyRaw}"`,
      );
    const request: InjectFaultRequest = {
      instance: requireString(values, 'instance', 'inject-fault'),
      layer: requireString(values, 'layer', 'inject-fault'),
      error_rate: number('error-rate', 0, 1) ?? 0,
      burden_scale: number('burden-scale', 0.000001, 100) ?? 0,
      latency_ms: latency,
      clear: values.clear === true,
      actor: `${userInfo().username}@${hostname()}`,
      reason: optionalString(values, 'reason') ?? '',
    };
    const nothing = request.error_rate === 0 && request.burden_scale === 0 && request.latency_ms === 0;
    if (nothing && !request.clear) {
      throw new TriadError('USAGE', 'say what goes wrong: --burden-scale, --error-rate and/or --latency (or --clear)');
    }
    const { response } = await callAdmin<InjectFaultRequest, InjectFaultReply>(
      values,
      io,
      'InjectFault',
      request,
      10_000,
    );
    if (values.json) writeJson(io, response);
    else if (response.faults.length === 0) io.stdout.write(`${response.instance}: no synthetic faults\n`);
    else {
      io.stdout.write(
        `${response.instance}: synthetic faults now\n${response.faults.map((f) => `  ${f.layer}: error rate ${f.error_rate}, burden ×${f.burden_scale}, latency +${f.latency_ms} ms`).join('\n')}\n`,
      );
    }
    return 0;
  },
};
