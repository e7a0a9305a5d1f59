import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { filesIn, readRepoFile, repoRoot } from './ops-assets.js';

// Structure checks that need neither systemd nor ansible; test/integration/ops/ansible.test.ts runs the real
// `ansible-playbook --syntax-check` on each playbook.

/** key → values of a systemd unit (a key may repeat). */
function parseUnit(text: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    entries.set(key, [...(entries.get(key) ?? []), line.slice(eq + 1)]);
  }
  return entries;
}

describe('deploy/systemd/triad-node@.service', () => {
  const unit = parseUnit(readRepoFile('deploy/systemd/triad-node@.service'));
  const one = (key: string) => {
    const values = unit.get(key);
    expect(values, key).toHaveLength(1);
    return values![0]!;
  };

  test('runs `triad node --instance %i` as an unprivileged user with the env file', () => {
    expect(one('Service.ExecStart')).toMatch(/^\/usr\/bin\/node \/opt\/triad\/bin\/triad\.js node --instance %i$/);
    expect(one('Service.User')).not.toMatch(/^(root|0)$/);
    expect(one('Service.EnvironmentFile')).toBe('/etc/triad/triad.env');
    expect(unit.get('Service.Environment')).toEqual(expect.arrayContaining(['TRIAD_CONFIG=/etc/triad/cluster.yaml']));
  });

  test('restarts on failure and stops with SIGTERM, leaving the 10 s drain time to finish', () => {
    expect(one('Service.Restart')).toBe('on-failure');
    expect(one('Service.KillSignal')).toBe('SIGTERM');
    const timeout = /^(\d+)s$/.exec(one('Service.TimeoutStopSec'));
    expect(Number(timeout?.[1])).toBeGreaterThan(10);
    expect(one('Install.WantedBy')).toBe('multi-user.target');
  });
});

interface Task {
  name?: string;
  [key: string]: unknown;
}

interface Play {
  name?: string;
  hosts: string;
  tasks?: Task[];
  handlers?: Task[];
}

const taskKeywords = new Set([
  'name',
  'when',
  'register',
  'until',
  'retries',
  'delay',
  'changed_when',
  'failed_when',
  'notify',
  'loop',
  'no_log',
  'environment',
  'become',
  'run_once',
  'delegate_to',
  'tags',
]);
const moduleOf = (task: Task) => Object.keys(task).filter((k) => !taskKeywords.has(k));

describe.each(filesIn('ansible', '.yml'))('%s', (file) => {
  const plays = parse(readRepoFile(file)) as Play[];
  const tasks = plays.flatMap((p) => [...(p.tasks ?? []), ...(p.handlers ?? [])]);

  test('named plays and tasks, each task one ansible.builtin module', () => {
    expect(plays.length).toBeGreaterThan(0);
    for (const play of plays) expect(play.name, file).toBeTruthy();
    for (const task of tasks) {
      expect(task.name, JSON.stringify(task)).toBeTruthy();
      const modules = moduleOf(task);
      expect(modules, task.name).toHaveLength(1);
      expect(modules[0], task.name).toMatch(/^ansible\.builtin\./);
    }
  });

  test('every template or copy source exists', () => {
    for (const task of tasks) {
      const args = (task['ansible.builtin.template'] ?? task['ansible.builtin.copy']) as { src?: string } | undefined;
      // Certificates are generated on the controller (triad certs generate) and never committed: not a repo file.
      if (!args?.src || args.src.startsWith('{{ triad_certs_src }}')) continue;
      const template = args.src;
      const sources = template.includes('{{ item }}')
        ? (task.loop as string[]).map((item) => template.replace('{{ item }}', item))
        : [template];
      for (const src of sources) {
        expect(existsSync(path.join(repoRoot, 'ansible', src)), `${task.name}: ${src}`).toBe(true);
      }
    }
  });
});

describe('ansible/restart_instance.yml, ansible/restart_all_services.yml and tasks/restart_node.yml', () => {
  const restartNode = parse(readRepoFile('ansible/tasks/restart_node.yml')) as Task[];
  type SerialPlay = Play & { serial?: number; any_errors_fatal?: boolean };

  test('both playbooks restart one node at a time through the shared task file', () => {
    for (const file of ['ansible/restart_instance.yml', 'ansible/restart_all_services.yml']) {
      const plays = parse(readRepoFile(file)) as SerialPlay[];
      const restart = plays.at(-1)!;
      expect(restart.hosts, file).toBe('triad_nodes');
      expect(restart.serial, file).toBe(1);
      expect(
        restart.tasks!.map((t) => t['ansible.builtin.import_tasks']),
        file,
      ).toEqual(['tasks/restart_node.yml']);
    }
    // restart_all_services refuses to begin unless every node is ready (any one failing stops the whole run).
    const [check] = parse(readRepoFile('ansible/restart_all_services.yml')) as SerialPlay[];
    expect(check!.any_errors_fatal).toBe(true);
    expect((check!.tasks![0]!['ansible.builtin.uri'] as { url: string }).url).toMatch(/\/ready$/);
  });

  test('per node: the others ready (majority), drain/stop, start, /ready, consensus on every node', () => {
    const [others, stop, start, wait, consensus] = restartNode;
    expect(others!.loop).toBe("{{ groups['triad_nodes'] | difference([inventory_hostname]) }}");
    expect((others!['ansible.builtin.uri'] as { url: string }).url).toMatch(/\/ready$/);
    expect(stop!['ansible.builtin.systemd']).toMatchObject({ name: 'triad-node@{{ instance }}', state: 'stopped' });
    expect(start!['ansible.builtin.systemd']).toMatchObject({ name: 'triad-node@{{ instance }}', state: 'started' });
    expect(wait!['ansible.builtin.uri']).toMatchObject({ status_code: 200 });
    expect((wait!['ansible.builtin.uri'] as { url: string }).url).toMatch(/\/ready$/);
    expect(wait!.until).toBe('triad_ready.status == 200');
    expect(consensus!.loop).toBe("{{ groups['triad_nodes'] }}");
    expect(consensus!.until).toMatch(/json\.checks\.consensus/);
    // The probes run where the CA certificate is: the control machine.
    for (const task of [others, wait, consensus]) expect(task!.delegate_to).toBe('localhost');
    // Bounded: the two variables come from group_vars (no inventory overrides them): 30 tries 2 s apart, a minute.
    expect([wait!.retries, wait!.delay]).toEqual(['{{ triad_wait_retries }}', '{{ triad_wait_delay }}']);
    const vars = parse(readRepoFile('ansible/group_vars/all.yml')) as Record<string, unknown>;
    expect([vars.triad_wait_retries, vars.triad_wait_delay]).toEqual([30, 2]);
    for (const inventory of filesIn('ansible/inventory', '.ini')) {
      expect(readRepoFile(inventory), inventory).not.toMatch(/\btriad_wait_(retries|delay)\b/);
    }
  });
});

describe('ansible/backup.yml', () => {
  const [play] = parse(readRepoFile('ansible/backup.yml')) as Play[];

  test('runs triad backup on one node with DATABASE_URL hidden, then fetches the file it names', () => {
    expect(play!.hosts).toBe("{{ triad_backup_host | default('triad_nodes[0]') }}");
    const run = play!.tasks!.find((t) => t['ansible.builtin.command'])!;
    expect((run['ansible.builtin.command'] as { cmd: string }).cmd).toMatch(/triad\.js backup --json/);
    expect(run.environment).toEqual({ DATABASE_URL: '{{ triad_database_url }}' });
    expect(run.no_log).toBe(true);
    const fetch = play!.tasks!.find((t) => t['ansible.builtin.fetch'])!;
    expect(fetch['ansible.builtin.fetch']).toMatchObject({
      src: '{{ (triad_backup.stdout | from_json).file }}',
      flat: true,
    });
  });
});

describe.each(['ansible/inventory/production.ini', 'ansible/inventory/local.ini'])('%s', (file) => {
  const text = readRepoFile(file);
  const nodes = text.split(/^\[/m).find((s) => s.startsWith('triad_nodes]'))!;

  test('alpha, beta and gamma in triad_nodes, each with its instance name', () => {
    const hosts = nodes
      .split('\n')
      .slice(1)
      .filter((l) => /^\w/.test(l))
      .map((l) => [l.split(/\s+/)[0], /\binstance=(\w+)/.exec(l)?.[1]]);
    expect(hosts).toEqual([
      ['alpha', 'alpha'],
      ['beta', 'beta'],
      ['gamma', 'gamma'],
    ]);
  });
});
