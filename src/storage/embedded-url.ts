import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { embeddedDatabase, embeddedSuperuser } from './embedded-cluster.js';
import { liveProcess, readPostmasterPid } from './embedded-files.js';

/**
 * The URL of the embedded engine `triad up` runs on this data dir, when it is running: what operator commands
 * (precheck, backup, verify-database) use without DATABASE_URL. Read from the server's own postmaster.pid (its port)
 * and the password file `triad up` wrote; never creates either.
 */
export function runningEmbeddedUrl(dataDir: string): string | undefined {
  const pidFile = readPostmasterPid(path.join(dataDir, 'postgres'));
  const passwordFile = path.join(dataDir, 'postgres.password');
  if (!pidFile?.port || !liveProcess(pidFile.pid) || !existsSync(passwordFile)) return undefined;
  const password = encodeURIComponent(readFileSync(passwordFile, 'utf8').trim());
  return `postgres://${embeddedSuperuser}:${password}@127.0.0.1:${pidFile.port}/${embeddedDatabase}`;
}
