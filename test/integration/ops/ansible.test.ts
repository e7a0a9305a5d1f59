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
      expect.arrayContaining([
        'backup.yml',
        'deploy_layer_manager.yml',
        'monitoring.yml',
        'restart_all_services.yml',
        'restart_instance.yml',
      ]),
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

  // CI's lint bar for the playbooks (issue 15): the production profile, offline (no galaxy downloads; every module
  // used is ansible.builtin), over the whole folder, task files included.
  test('ansible/ is ansible-lint clean with the production profile', () => {
    const binary = requireCommand('ansible-lint', 'apt-get update && apt-get install -y ansible-lint');
    const result = spawnSync(binary, ['--offline', '--profile', 'production', '--nocolor', '-p', 'ansible/'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCAL_TEMP: '/tmp', NO_COLOR: '1' },
    });
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    expect(result.stderr).toMatch(/Passed with production profile: 0 failure\(s\), 0 warning\(s\)/);
  }, 300_000);
});
