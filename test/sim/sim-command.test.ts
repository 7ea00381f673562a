import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { http } from './helpers.js';

const tsx = join(process.cwd(), 'node_modules', '.bin', 'tsx');
const cliPath = join(process.cwd(), 'src', 'sim', 'cli.ts');

function startCommand(args: string[]) {
  const child = spawn(tsx, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

describe('npm run sim', () => {
  it('prints the OS_* variables, serves them, and stops cleanly on SIGTERM', async () => {
    const run = startCommand(['--port', '0', '--time-scale', '0.1', '--seed', '3']);
    const deadline = Date.now() + 20_000;
    let authUrl: string | undefined;
    while (!authUrl && Date.now() < deadline) {
      authUrl = /export OS_AUTH_URL=(\S+)/.exec(run.output().stdout)?.[1];
      if (!authUrl) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    try {
      expect(authUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/identity\/v3$/);
      expect(run.output().stdout).toContain('export OS_USERNAME=admin');
      const version = await http('GET', authUrl ?? '');
      expect(version.json.version.id).toBe('v3.14');
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toBe(0);
  });

  it('exits 2 with the reason for a bad scenario or option', async () => {
    const missing = startCommand(['--scenario', '/no/such.yaml', '--port', '0']);
    expect(await missing.exited).toBe(2);
    expect(missing.output().stderr).toContain('scenario file not found: /no/such.yaml');
    const badScale = startCommand(['--time-scale', 'fast']);
    expect(await badScale.exited).toBe(2);
    expect(badScale.output().stderr).toContain('--time-scale: invalid value "fast"');
  });
});
