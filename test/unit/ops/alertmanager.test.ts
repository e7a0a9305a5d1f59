import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { alertRules, readRepoFile } from './ops-assets.js';

// amtool is not on the machine (Debian ships it in prometheus-alertmanager), so the structure is checked here:
// every route's receiver exists, matchers parse, and each severity the rules use reaches its intended receiver.

interface Route {
  receiver?: string;
  matchers?: string[];
  continue?: boolean;
  group_by?: string[];
  routes?: Route[];
}

interface AlertmanagerConfig {
  route: Route;
  receivers: { name: string; webhook_configs?: { url: string }[] }[];
  inhibit_rules?: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
}

const config = parse(readRepoFile('prometheus/alertmanager.yml')) as AlertmanagerConfig;

type Matcher = (labels: Record<string, string>) => boolean;

/** Alertmanager's matcher syntax: name op "value", op one of = != =~ !~ (regexes anchored). */
function parseMatcher(text: string): Matcher {
  const match = /^\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(text);
  if (!match) throw new Error(`not an Alertmanager matcher: ${text}`);
  const [, name, op, value] = match as unknown as [string, string, string, string];
  const regex = new RegExp(`^(?:${value})$`);
  return (labels) => {
    const actual = labels[name] ?? '';
    switch (op) {
      case '=':
        return actual === value;
      case '!=':
        return actual !== value;
      case '=~':
        return regex.test(actual);
      default:
        return !regex.test(actual);
    }
  };
}

/** The receivers an alert with these labels is sent to (Alertmanager's tree walk: first match, unless continue). */
function receiversFor(route: Route, labels: Record<string, string>, inherited = route.receiver): string[] {
  const receiver = route.receiver ?? inherited;
  const found: string[] = [];
  for (const child of route.routes ?? []) {
    if (!(child.matchers ?? []).map(parseMatcher).every((m) => m(labels))) continue;
    found.push(...receiversFor(child, labels, receiver));
    if (!child.continue) break;
  }
  return found.length > 0 ? found : [receiver!];
}

const allRoutes = (route: Route): Route[] => [route, ...(route.routes ?? []).flatMap(allRoutes)];

describe('prometheus/alertmanager.yml', () => {
  const receiverNames = config.receivers.map((r) => r.name);

  test('every receiver is defined once, is a loopback webhook, and is used', () => {
    expect(new Set(receiverNames).size).toBe(receiverNames.length);
    for (const r of config.receivers) {
      expect(r.webhook_configs?.length, r.name).toBeGreaterThan(0);
      for (const w of r.webhook_configs ?? []) expect(w.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    }
    const used = new Set(allRoutes(config.route).flatMap((r) => (r.receiver ? [r.receiver] : [])));
    expect([...used].sort()).toEqual([...receiverNames].sort());
  });

  test('every matcher parses, and the root route has a receiver and groups by alert and instance', () => {
    expect(config.route.receiver).toBeDefined();
    expect(config.route.group_by).toEqual(expect.arrayContaining(['alertname', 'instance']));
    for (const route of allRoutes(config.route)) for (const m of route.matchers ?? []) parseMatcher(m);
    for (const rule of config.inhibit_rules ?? []) {
      [...rule.source_matchers, ...rule.target_matchers].forEach(parseMatcher);
      expect(rule.equal).toContain('instance');
    }
  });

  test('severities route to pager, chat and low priority', () => {
    expect(receiversFor(config.route, { alertname: 'X', severity: 'critical' })).toEqual(['triad-pager']);
    expect(receiversFor(config.route, { alertname: 'X', severity: 'warning' })).toEqual(['triad-chat']);
    expect(receiversFor(config.route, { alertname: 'X', severity: 'info' })).toEqual(['triad-low-priority']);
  });

  test('every severity the alert rules use has its own route (not the root fallback)', () => {
    const severities = [...new Set(alertRules().map((r) => r.labels?.severity ?? '(none)'))].sort();
    expect(severities).toEqual(['critical', 'info', 'warning']);
    for (const severity of severities) {
      const children = (config.route.routes ?? []).filter((child) =>
        (child.matchers ?? []).map(parseMatcher).every((m) => m({ severity })),
      );
      expect(children.length, severity).toBe(1);
      expect(receiverNames).toContain(children[0]!.receiver);
    }
  });

  test('each alert rule reaches the receiver of its severity', () => {
    const want: Record<string, string> = { critical: 'triad-pager', warning: 'triad-chat', info: 'triad-low-priority' };
    for (const rule of alertRules()) {
      const labels = { alertname: rule.alert!, ...rule.labels };
      expect(receiversFor(config.route, labels), rule.alert).toEqual([want[rule.labels!.severity!]]);
    }
  });
});
