import { execFileSync } from 'node:child_process';

/**
 * Hosts with their own addresses, and faults on the links between them. Every node runs in a network namespace of
 * its own (`trf-<name>`), joined to a bridge in the root namespace by a veth pair, so each has a real address
 * (10.213.0.11, .12 …) and a fault can cut one link and leave the others alone. The bridge (10.213.0.1) is where the
 * harness itself lives: its clients, and the proxies that stand for PostgreSQL and Redis. Nothing leaves the machine:
 * the bridge has no uplink and nothing routes or forwards it.
 *
 * Faults are nftables rules (a table of our own, `inet triad_faults`, in the sending node's namespace) and tc netem
 * on the node's end of its veth, filtered to one destination. Deleting the namespaces and the bridge undoes all of
 * it, which is what teardown() does, and what the exit handler and `.ci/run`'s trap do if a run dies half-way.
 */

export const bridge = 'trf0';
export const bridgeAddress = '10.213.0.1';
const subnet = 24;
const prefix = 'trf-';

export function hostAddress(index: number): string {
  return `10.213.0.${11 + index}`;
}

function run(cmd: string, args: readonly string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input ? { input } : {}) });
}

function tryRun(cmd: string, args: readonly string[]): void {
  try {
    run(cmd, args);
  } catch {
    // Already gone: teardown is idempotent.
  }
}

/** Fails loudly (never skips) when this cannot create namespaces or load rules: the suite needs root, nft and tc. */
export function requireFaultTools(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('the fault suite needs root (network namespaces, nftables, tc): run it as root, as .ci/run does');
  }
  for (const tool of ['ip', 'nft', 'tc']) {
    try {
      run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      throw new Error(
        `the fault suite needs ${tool}: apt-get install -y nftables iproute2 (scripts/test-prerequisites.sh)`,
      );
    }
  }
}

export function namespaceOf(name: string): string {
  return `${prefix}${name}`;
}

/** Removes every namespace and bridge this harness ever made (also a crashed run's); safe to call any time. */
export function teardownNetwork(): void {
  let namespaces: string[] = [];
  try {
    namespaces = run('ip', ['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.startsWith(prefix));
  } catch {
    namespaces = [];
  }
  for (const ns of namespaces) tryRun('ip', ['netns', 'delete', ns]);
  tryRun('ip', ['link', 'delete', bridge]);
}

export interface Cut {
  from: string;
  /** A peer's name, or a literal address:port (PostgreSQL's proxy of one node). */
  to: string;
  /** Drop only this share of the packets (nftables numgen), not all of them. */
  lossPercent?: number;
}

export interface Delay {
  from: string;
  to: string;
  delayMs: number;
  lossPercent: number;
}

/** The hosts of one test cluster and the faults active between them right now. */
export class FaultNetwork {
  private readonly cuts: Cut[] = [];
  private readonly delayed = new Set<string>();

  constructor(readonly names: readonly string[]) {}

  address(name: string): string {
    const index = this.names.indexOf(name);
    if (index < 0) throw new Error(`no host ${name}`);
    return hostAddress(index);
  }

  /** Creates the bridge and one namespace per host; removes leftovers of an earlier run first. */
  setUp(): void {
    teardownNetwork();
    run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${bridgeAddress}/${subnet}`, 'dev', bridge]);
    run('ip', ['link', 'set', bridge, 'up']);
    this.names.forEach((name, i) => {
      const ns = namespaceOf(name);
      const outside = `trfh-${i}`;
      const inside = `trfn-${i}`;
      run('ip', ['netns', 'add', ns]);
      run('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
      run('ip', ['link', 'set', inside, 'netns', ns]);
      run('ip', ['link', 'set', outside, 'master', bridge]);
      run('ip', ['link', 'set', outside, 'up']);
      const inNs = (...args: string[]) => run('ip', ['netns', 'exec', ns, ...args]);
      inNs('ip', 'link', 'set', 'lo', 'up');
      inNs('ip', 'link', 'set', inside, 'name', 'eth0');
      inNs('ip', 'addr', 'add', `${hostAddress(i)}/${subnet}`, 'dev', 'eth0');
      inNs('ip', 'link', 'set', 'eth0', 'up');
    });
  }

  teardown(): void {
    teardownNetwork();
  }

  /** The command line that runs `argv` on host `name`. */
  exec(name: string, argv: readonly string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', namespaceOf(name), ...argv]];
  }

  /** Drops every packet from `from` to `to` (a host, or `address:port`). Both ways: call it twice. */
  cut(from: string, to: string): void {
    this.cuts.push({ from, to });
    this.load(from);
  }

  /** Random loss of `percent` of the packets from `from` to `to`, by nftables (works without sch_netem). */
  lose(from: string, to: string, percent: number): void {
    this.cuts.push({ from, to, lossPercent: percent });
    this.load(from);
  }

  /** Whether this kernel has tc netem (sch_netem): some container kernels do not. Probed in a namespace of its own. */
  static hasNetem(): boolean {
    const ns = `${prefix}probe`;
    try {
      run('ip', ['netns', 'add', ns]);
      run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
      run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
      return true;
    } catch {
      return false;
    } finally {
      tryRun('ip', ['netns', 'delete', ns]);
    }
  }

  /** Cuts every link between the two groups, both ways (or only a → b with oneWay). */
  partition(a: readonly string[], b: readonly string[], options: { oneWay?: boolean } = {}): void {
    for (const x of a) for (const y of b) this.cuts.push({ from: x, to: y });
    if (!options.oneWay) for (const x of a) for (const y of b) this.cuts.push({ from: y, to: x });
    for (const host of new Set([...a, ...(options.oneWay ? [] : b)])) this.load(host);
  }

  /** netem delay and loss on packets from `from` to `to` only (a prio band of their own, chosen by a u32 filter). */
  delay(d: Delay): void {
    const ns = namespaceOf(d.from);
    const tc = (...args: string[]) => run('ip', ['netns', 'exec', ns, 'tc', ...args]);
    if (!this.delayed.has(d.from)) {
      // Four bands: the default priomap only ever uses the first three, so band 4 carries nothing but what we filter.
      tc('qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'prio', 'bands', '4');
      tc(
        'qdisc',
        'add',
        'dev',
        'eth0',
        'parent',
        '1:4',
        'handle',
        '40:',
        'netem',
        'delay',
        `${d.delayMs}ms`,
        'loss',
        `${d.lossPercent}%`,
      );
      this.delayed.add(d.from);
    }
    tc(
      'filter',
      'add',
      'dev',
      'eth0',
      'protocol',
      'ip',
      'parent',
      '1:0',
      'prio',
      '1',
      'u32',
      'match',
      'ip',
      'dst',
      `${this.address(d.to)}/32`,
      'flowid',
      '1:4',
    );
  }

  /** Undoes every cut and delay (the namespaces stay). */
  heal(): void {
    const hosts = new Set(this.cuts.map((c) => c.from));
    this.cuts.length = 0;
    for (const host of hosts) this.load(host);
    for (const host of this.delayed)
      tryRun('ip', ['netns', 'exec', namespaceOf(host), 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
    this.delayed.clear();
  }

  get active(): readonly Cut[] {
    return this.cuts;
  }

  /** Rewrites host's table from the cuts that start there: one atomic nft -f, so no half-applied rule set. */
  private load(host: string): void {
    const rules = this.cuts
      .filter((c) => c.from === host)
      .map((c) => {
        const [address, port] = c.to.includes(':') ? c.to.split(':') : [this.address(c.to), undefined];
        const loss = c.lossPercent === undefined ? '' : ` numgen random mod 100 < ${c.lossPercent}`;
        return `    ip daddr ${address}${port ? ` tcp dport ${port}` : ''}${loss} drop`;
      });
    const script = [
      'table inet triad_faults',
      'delete table inet triad_faults',
      ...(rules.length > 0
        ? [
            'table inet triad_faults {',
            '  chain out {',
            '    type filter hook output priority 0; policy accept;',
            ...rules,
            '  }',
            '}',
          ]
        : []),
      '',
    ].join('\n');
    run('ip', ['netns', 'exec', namespaceOf(host), 'nft', '-f', '-'], script);
  }
}
