/**
 * The whole app as `npm start` runs it (local workspace + simulated cloud, in a child process),
 * driven through a real browser: preview, a failure injected from the drill panel, confirm, the
 * run finishing with that failure, Retry from the thread, and the retried move succeeding.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// The README's picture is refreshed only on request (UPDATE_SCREENSHOT=1), so a test run never
// leaves the tracked file modified; otherwise the mid-run screenshot goes to test-results/.
const SCREENSHOT = process.env.UPDATE_SCREENSHOT
  ? path.join(REPO, 'docs', 'screenshot-local-workspace.png')
  : path.join(REPO, 'test-results', 'screenshot-local-workspace.png');
/** Generous: the page waits for DOM states, these only bound a broken run. */
const STEP_TIMEOUT_MS = 45_000;
const POLL = { timeout: STEP_TIMEOUT_MS, interval: 200 };

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `\n${'!'.repeat(78)}\n!! SKIPPING the browser test of the local workspace: no chromium at ${CHROMIUM}.\n` +
      `!! Install it (apt-get install chromium) or set CHROMIUM_PATH. CI installs it.\n${'!'.repeat(78)}\n`,
  );
}

interface RunningApp {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Starts `src/main.ts` like `npm start` does, with nothing from this machine's Slack or OpenStack setup. */
async function startApp(workDir: string): Promise<RunningApp> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.startsWith('OS_') || key.startsWith('SLACK_') || key.startsWith('EVAC_'))
      continue;
    if (key === 'VITEST' || key.startsWith('VITEST_') || key === 'NODE_ENV') continue;
    env[key] = value;
  }
  Object.assign(env, {
    WORKSPACE_PORT: '0',
    // 5 s simulated moves take 1 s: slow enough to watch mid-run, fast enough for a test.
    SIM_TIME_SCALE: '0.2',
    SIM_SEED: '7',
    EVAC_DB_PATH: path.join(workDir, 'evacuations.sqlite'),
    EVAC_POLL_INTERVAL_MS: '300',
    LOG_LEVEL: 'warn',
  });
  const tsx = fileURLToPath(import.meta.resolve('tsx'));
  // cwd is an empty directory so a developer's .env cannot switch the app to real Slack or a real cloud.
  const child = spawn(process.execPath, ['--import', tsx, path.join(REPO, 'src', 'main.ts')], {
    cwd: workDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not start in time:\n${output}`)), 60_000);
    const check = () => {
      const match = /Local workspace \(no Slack install needed\): (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the app exited (${code}) before it started:\n${output}`));
    });
  });
  return { child, url, output: () => output };
}

async function stopApp(app: RunningApp): Promise<number | null> {
  if (app.child.exitCode !== null) return app.child.exitCode;
  const exited = new Promise<number | null>((resolve) => app.child.once('exit', (code) => resolve(code)));
  app.child.kill('SIGTERM');
  const timer = setTimeout(() => app.child.kill('SIGKILL'), 15_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

function botMessage(scope: Page | Locator, text: string | RegExp): Locator {
  return scope.locator('.message.from-bot', { hasText: text });
}

describe.skipIf(!haveChromium)('local workspace in a browser', () => {
  let workDir: string;
  let app: RunningApp;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'evac-e2e-'));
    app = await startApp(workDir);
    context = await chromium.launchPersistentContext(path.join(workDir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1360, height: 820 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    if (app) {
      const code = await stopApp(app);
      // Graceful shutdown on SIGTERM is part of what `npm start` promises.
      expect(code, app.output()).toBe(0);
    }
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }, 60_000);

  it('previews, fails a move injected from the drill panel, retries it from the thread', async () => {
    onTestFailed(async () => {
      // What the page and the app showed when it went wrong, for the CI log.
      const failurePng = path.join(REPO, 'test-results', 'local-workspace-failure.png');
      await page.screenshot({ path: failurePng }).catch(() => undefined);
      const channel = await page
        .locator('#messages')
        .innerText()
        .catch(() => '(no channel)');
      const thread = await page
        .locator('#thread-pane')
        .innerText()
        .catch(() => '(no thread)');
      console.error(
        `--- channel ---\n${channel.slice(-4000)}\n--- thread ---\n${thread.slice(-4000)}\n--- app output ---\n${app.output().slice(-4000)}\n(screenshot: ${failurePng})`,
      );
    });
    await page.goto(app.url);
    await expect.poll(() => page.locator('.cloud-badge').textContent(), POLL).toBe('Simulated cloud');
    await page.locator('.drill-host', { hasText: 'host-2' }).waitFor();

    // Preview.
    const composer = page.locator('#composer-input');
    await composer.fill('/evacuate host-2');
    await composer.press('Enter');
    const preview = botMessage(page, 'Evacuation preview: host-2');
    const confirm = preview.getByRole('button', { name: /^Confirm/ });
    await confirm.waitFor();

    // One move at a time, chosen in the preview's menu: the bot re-plans and edits the preview. It
    // also makes the order of moves the plan's, so the injected failure hits a server that would
    // otherwise move (host-2's affinity-group members fail Nova's scheduling on their own).
    await preview.getByRole('combobox', { name: 'Parallel moves' }).selectOption({ label: 'One at a time' });
    await expect
      .poll(() => preview.locator('.bk-field', { hasText: 'Parallel' }).textContent(), POLL)
      .toMatch(/(^|\D)1 at a time|one at a time/i);

    // Drill: the next live migration fails (accepted by Nova, then fails on the host).
    await page.getByRole('button', { name: 'Make it fail' }).click();
    await page.locator('.toast', { hasText: 'Armed' }).waitFor();
    // Slow moves (6 s each at this time scale) keep the run going for a good while after the
    // failure shows up, so the mid-run screenshot does not race the end of the run.
    await page.locator('#drill-speed').selectOption('slow');
    await page.locator('.toast', { hasText: 'Moves are now slow' }).waitFor();

    // Confirm, through Slack's confirmation dialog.
    await confirm.click();
    const modal = page.locator('#modal');
    await modal.waitFor();
    await expect.poll(() => modal.locator('#modal-text').textContent(), POLL).toContain('host-2');
    await modal.locator('#modal-confirm').click();
    await modal.waitFor({ state: 'hidden' });

    // The preview becomes the status message, edited in place; the failure lands in its thread.
    const status = botMessage(page.locator('#messages'), /Evacuating host-2/);
    await status.waitFor();
    const statusTs = await status.getAttribute('data-ts');
    expect(statusTs).toBeTruthy();
    const replies = page.locator(`#messages > [data-ts="${statusTs}"] .thread-summary`);
    await replies.waitFor();
    await replies.click();
    const thread = page.locator('#thread-pane');
    // The injected failure, told in Nova's words (libvirt's error from the instance action); other
    // servers on host-2 may fail for their own reasons (its affinity group), and stay failed.
    const injected = botMessage(thread, /libvirtError/).filter({
      has: page.getByRole('button', { name: 'Retry', exact: true }),
    });
    await injected.waitFor();
    await page.locator('.drill-host .drill-host-meta', { hasText: 'moving' }).first().waitFor();
    await expect.poll(() => status.textContent(), POLL).toMatch(/failed\s*[1-9]/);
    // Mid-run: the status message shows progress, the thread the failure, the drill panel the moves.
    await page.locator('.toast').evaluateAll((toasts) => toasts.forEach((toast) => toast.remove()));
    await page.mouse.move(0, 0);
    await status.evaluate((message) => message.scrollIntoView({ block: 'start' }));
    await injected.evaluate((message) => message.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: SCREENSHOT });
    await page.locator('#drill-speed').selectOption('fast');

    // The run finishes with the failure: the summary is broadcast to the channel as well.
    const summary = botMessage(page.locator('#messages'), /Evacuation of host-2 finished/).filter({
      hasText: 'replied to a thread',
    });
    await summary.waitFor();
    await expect.poll(() => summary.textContent(), POLL).toMatch(/failed\s*[1-9]/);
    const failedServer = /(web-4|web-5|db-2|db-3|batch-2|tools-1)/.exec(
      (await injected.textContent()) ?? '',
    )?.[1];
    expect(failedServer).toBeTruthy();

    // Retry it from the thread: the retried move succeeds, in the thread and in the cloud.
    await injected.getByRole('button', { name: 'Retry', exact: true }).click();
    await botMessage(thread, /moved off/)
      .filter({ hasText: `${failedServer} → host-` })
      .waitFor();
    await expect
      .poll(
        () =>
          page.evaluate(async (name) => {
            const response = await fetch('/_sim/state');
            const state = (await response.json()) as {
              servers: { name: string; host: string | null; status: string }[];
            };
            const server = state.servers.find((candidate) => candidate.name === name);
            return `${server?.status} on ${server?.host}`;
          }, failedServer),
        POLL,
      )
      .toMatch(/^ACTIVE on host-(?!2$)\d+$/);

    expect(pageErrors).toEqual([]);
    const size = statSync(SCREENSHOT).size;
    expect(size).toBeLessThan(300 * 1024);
  }, 240_000);

  it("switches people: ephemeral answers are theirs alone, typos get Slack's answer", async () => {
    await page.goto(app.url);
    const composer = page.locator('#composer-input');
    await page.locator('#user-select').selectOption('UGUEST1');
    await page.locator('.toast', { hasText: 'You are now Guest' }).waitFor();
    await composer.fill('/evacuate help');
    await composer.press('Enter');
    const help = page.locator('.message.ephemeral', { hasText: '/evacuate' }).last();
    await help.waitFor();
    await expect.poll(() => help.textContent(), POLL).toContain('Only visible to you');
    await composer.fill('/evacuat host-2');
    await composer.press('Enter');
    await page.locator('.message.ephemeral', { hasText: '/evacuat is not a valid command' }).waitFor();
    const guestEphemeral = await page.locator('.message.ephemeral').count();
    expect(guestEphemeral).toBeGreaterThanOrEqual(2);

    // Back as You: the guest's ephemeral messages are not on this screen.
    await page.locator('#user-select').selectOption('ULOCAL1');
    await page.locator('.toast', { hasText: 'You are now You' }).waitFor();
    await page.locator('#messages .message').first().waitFor();
    await expect
      .poll(() => page.locator('.message.ephemeral', { hasText: 'is not a valid command' }).count(), POLL)
      .toBe(0);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
