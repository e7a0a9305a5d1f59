import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import {
  verifyAudit as verifyAuditChain,
  type AuditAnchor,
  type AuditKey,
  type AuditVerification,
} from '../storage/index.js';
import type { CheckResult } from './checks.js';
import type pg from 'pg';

/**
 * The one place precheck and verify-database ask whether the audit log is intact: the keyed chain walked from its
 * first row with the audit key (and checked against an anchor when one is given), every version against its row.
 */
export function verifyAudit(
  pool: Pick<pg.Pool, 'query'>,
  key: AuditKey,
  anchor?: AuditAnchor,
): Promise<AuditVerification> {
  return verifyAuditChain(pool, key, anchor ? { anchor } : {});
}

/** Every certificate under the certs dir with its expiry (the CA, the nodes', the clients'). */
export function certificateExpiries(certsDir: string): { file: string; notAfterMs: number }[] {
  if (!existsSync(certsDir)) return [];
  const found: { file: string; notAfterMs: number }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.crt')) {
        const cert = new X509Certificate(readFileSync(full));
        found.push({ file: path.relative(certsDir, full), notAfterMs: Date.parse(cert.validTo) });
      }
    }
  };
  walk(certsDir);
  return found;
}

/** Free bytes on the file system holding `dir` (the embedded engine's data); undefined when it does not exist. */
export function freeBytes(dir: string): number | undefined {
  if (!existsSync(dir)) return undefined;
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}

export async function checkRedis(
  url: string | undefined,
  ca: Buffer | undefined,
  remoteCluster: boolean,
): Promise<CheckResult> {
  if (!url) {
    // Without REDIS_URL each node keeps live state in its own process: right for one machine, not for several.
    return remoteCluster
      ? {
          id: 'redis',
          status: 'WARN',
          value: 'in-process fallback',
          detail: 'no REDIS_URL: nodes on other hosts do not share live state or rate limits',
        }
      : { id: 'redis', status: 'PASS', value: 'in-process fallback (no REDIS_URL)' };
  }
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...(ca && url.startsWith('rediss:') ? { tls: { ca } } : {}),
  });
  redis.on('error', () => undefined); // reported through the ping below
  const started = performance.now();
  try {
    await redis.connect();
    await redis.ping();
    return { id: 'redis', status: 'PASS', value: `reachable (${Math.round(performance.now() - started)} ms)` };
  } catch (err) {
    return { id: 'redis', status: 'FAIL', value: 'unreachable', detail: (err as Error).message };
  } finally {
    redis.disconnect();
  }
}

/** Whether Prometheus scrapes every node's /metrics successfully: its targets API, matched by address. */
export async function checkPrometheus(
  url: string | undefined,
  httpAddresses: readonly { name: string; address: string }[],
): Promise<CheckResult> {
  if (!url) return { id: 'prometheus', status: 'PASS', value: 'not configured (no PROMETHEUS_URL)' };
  try {
    const res = await fetch(new URL('/api/v1/targets?state=active', url), { signal: AbortSignal.timeout(3_000) });
    const body = (await res.json()) as {
      data: { activeTargets: { scrapeUrl: string; health: string; lastError: string }[] };
    };
    const missing: string[] = [];
    for (const node of httpAddresses) {
      const target = body.data.activeTargets.find((t) => t.scrapeUrl.includes(`//${node.address}/`));
      if (!target) missing.push(`${node.name}: not a target`);
      else if (target.health !== 'up') missing.push(`${node.name}: ${target.health} ${target.lastError}`.trim());
    }
    const value = `${httpAddresses.length - missing.length}/${httpAddresses.length} scraped`;
    return missing.length === 0
      ? { id: 'prometheus', status: 'PASS', value }
      : { id: 'prometheus', status: 'FAIL', value, detail: missing.join('; ') };
  } catch (err) {
    return { id: 'prometheus', status: 'FAIL', value: 'unreachable', detail: `${url}: ${(err as Error).message}` };
  }
}
