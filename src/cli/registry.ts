import type { CommandEntry } from './command.js';

/** Every command, in the order `triad --help` lists them; each module is imported only when its command runs. */
export const commandRegistry: readonly CommandEntry[] = [
  {
    name: 'up',
    summary: 'Start a local cluster on loopback and keep it running until Ctrl-C.',
    load: async () => (await import('./commands/up.js')).upCommand,
  },
  {
    name: 'node',
    summary: 'Run one triad node (what systemd, ansible and `triad up` start).',
    load: async () => (await import('./commands/node.js')).nodeCommand,
  },
  {
    name: 'status',
    summary: 'The cascade overview, consensus, desired vs applied layers, and every node (health, uptime, peers).',
    load: async () => (await import('./commands/status.js')).statusCommand,
  },
  {
    name: 'activate-layers',
    summary: 'Activate layers on instances, through the gates (the rollout step).',
    load: async () => (await import('./commands/layers.js')).activateLayersCommand,
  },
  {
    name: 'deactivate-layers',
    summary: 'Deactivate layers (refuses to strand a layer that requires them, unless --cascade).',
    load: async () => (await import('./commands/layers.js')).deactivateLayersCommand,
  },
  {
    name: 'check-health',
    summary: 'Check layers: where they should run and do, agreed amplification and error rate against their bands.',
    load: async () => (await import('./commands/check-health.js')).checkHealthCommand,
  },
  {
    name: 'disable-framework',
    summary: 'Stop one framework on every instance (break-glass: no gates, no consensus wait).',
    load: async () => (await import('./commands/frameworks.js')).disableFrameworkCommand,
  },
  {
    name: 'enable-framework',
    summary: 'Let a disabled framework run again where its layer is active.',
    load: async () => (await import('./commands/frameworks.js')).enableFrameworkCommand,
  },
  {
    name: 'rollback',
    summary: 'Write a new version equal to an earlier one (by number or label); history is never rewritten.',
    load: async () => (await import('./commands/rollback.js')).rollbackCommand,
  },
  {
    name: 'history',
    summary: 'List desired-state versions, newest first, with who changed what and why.',
    load: async () => (await import('./commands/history.js')).historyCommand,
  },
  {
    name: 'emergency-disable',
    summary: 'Every layer off on every instance in one version (break-glass: no gates, no consensus wait).',
    load: async () => (await import('./commands/rollback.js')).emergencyDisableCommand,
  },
  {
    name: 'run-r6-orchestration',
    summary: 'Run R6 strategic orchestration now on the leader (it otherwise runs on its cron schedule).',
    load: async () => (await import('./commands/r6.js')).runR6Command,
  },
  {
    name: 'inject-fault',
    summary: 'Make the SYNTHETIC frameworks of one instance and layer misbehave (demo and tests; audited).',
    load: async () => (await import('./commands/inject-fault.js')).injectFaultCommand,
  },
  {
    name: 'force-consensus-sync',
    summary: 'Run a consensus epoch now and show how each instance converged.',
    load: async () => (await import('./commands/force-consensus-sync.js')).forceConsensusSyncCommand,
  },
  {
    name: 'consensus',
    summary:
      'Analyse consensus on a topology or graph: Laplacian spectrum, optimal step, predicted and simulated rounds.',
    load: async () => (await import('./commands/consensus-analyze.js')).consensusCommand,
  },
  {
    name: 'rollout',
    summary: 'Rollout plans run by the leader: create, start, status [--watch], promote, approve, pause, abort, retry.',
    load: async () => (await import('./commands/rollout.js')).rolloutCommand,
  },
  {
    name: 'canary',
    summary:
      'Judge a canary instance against its control cohort (Mann-Whitney, Hodges-Lehmann): PASS, FAIL, INCONCLUSIVE.',
    load: async () => (await import('./commands/canary.js')).canaryCommand,
  },
  {
    name: 'audit',
    summary: 'Verify the tamper-evident audit log (triad audit verify).',
    load: async () => (await import('./commands/audit.js')).auditCommand,
  },
  {
    name: 'certs',
    summary: 'Certificates for mutual TLS: generate a cluster CA and its certificates, issue one, show, rotate.',
    load: async () => (await import('./commands/certs.js')).certsCommand,
  },
  {
    name: 'precheck',
    summary:
      'Check before a rollout: config, nodes, clocks, storage, locks, consensus, audit, certificates, backups, alerts.',
    load: async () => (await import('./commands/precheck.js')).precheckCommand,
  },
  {
    name: 'backup',
    summary: 'Write a consistent backup of every triad table (one snapshot) with the audit head, and record it.',
    load: async () => (await import('./commands/backup.js')).backupCommand,
  },
  {
    name: 'restore',
    summary: 'Restore a backup into an empty database (or replace one with --force --reason), then verify it.',
    load: async () => (await import('./commands/backup.js')).restoreCommand,
  },
  {
    name: 'verify-database',
    summary: 'Check migrations, the audit chain, every desired-state version against its audit row, and row counts.',
    load: async () => (await import('./commands/backup.js')).verifyDatabaseCommand,
  },
  {
    name: 'migrate',
    summary: 'Apply pending schema migrations to the PostgreSQL at DATABASE_URL.',
    load: async () => (await import('./commands/migrate.js')).migrateCommand,
  },
  {
    name: 'console',
    summary:
      'Sign in to the browser console: prints a one-time URL (viewer, or operator with an operator certificate).',
    load: async () => (await import('./commands/console.js')).consoleCommand,
  },
];
