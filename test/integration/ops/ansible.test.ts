import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { repoRoot } from '../../fixtures/cluster.js';
import { requireCommand } from '../../fixtures/services.js';

const ansibleDir = path.join(repoRoot, 'ansible');
const playbooks = readdirSync(ansibleDir).filter((f) => f.endsWith('.yml'));

// The real ansible-playbook parses every playbook against the shipped inventory (npm's pretest installs ansible-core).
describe('ansible playbooks', () => {
  test('the shipped playbooks are the ones listed here', () => {
    expect(playbooks.sort()).toEqual(
      expect.arrayContaining(['deploy_layer_manager.yml', 'monitoring.yml', 'restart_instance.yml']),
    );
  });

  test.each(playbooks)('%s passes ansible-playbook --syntax-check', (playbook) => {
    const binary = requireCommand('ansible-playbook', 'apt-get update && apt-get install -y ansible-core');
    const result = spawnSync(
      binary,
      ['--syntax-check', '-i', path.join(ansibleDir, 'inventory/local.ini'), path.join(ansibleDir, playbook)],
      { encoding: 'utf8', env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCAL_TEMP: '/tmp' } },
    );
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    expect(result.stdout).toContain(`playbook: ${path.join(ansibleDir, playbook)}`);
  });
});
