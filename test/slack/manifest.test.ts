/**
 * app-manifest.yml asks for exactly the scopes the app uses: every Web API method the bot calls in
 * a full run is covered, and no scope is requested that no call needs.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { generateScenario } from '../../src/sim/index.js';
import { ActionId } from '../../src/slack/action-ids.js';
import { ALICE, BOB, startSlackHarness, type SlackHarness } from './harness.js';

const manifestSchema = z.object({
  features: z.object({
    slash_commands: z.array(
      z.object({
        command: z.string(),
        description: z.string(),
        usage_hint: z.string(),
        should_escape: z.boolean(),
      }),
    ),
  }),
  oauth_config: z.object({ scopes: z.object({ bot: z.array(z.string()) }) }),
  settings: z.object({
    interactivity: z.object({ is_enabled: z.boolean() }),
    socket_mode_enabled: z.boolean(),
  }),
});

/** The bot scope each Web API method needs (null: none). */
const METHOD_SCOPES: Record<string, string | null> = {
  'auth.test': null,
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'chat.getPermalink': null,
  'usergroups.users.list': 'usergroups:read',
  'usergroups.list': 'usergroups:read',
};

const manifest = manifestSchema.parse(
  parse(readFileSync(new URL('../../app-manifest.yml', import.meta.url), 'utf8')),
);

let h: SlackHarness | undefined;
afterAll(async () => {
  await h?.close();
});

describe('app-manifest.yml', () => {
  it('declares /evacuate with a usage hint, interactivity and Socket Mode', () => {
    const [command] = manifest.features.slash_commands;
    expect(manifest.features.slash_commands).toHaveLength(1);
    expect(command).toMatchObject({ command: '/evacuate', should_escape: false });
    expect(command!.usage_hint).toContain('--dry-run');
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.socket_mode_enabled).toBe(true);
  });

  it('requests exactly the scopes the calls of a full run need', async () => {
    h = await startSlackHarness({
      scenario: generateScenario({
        hosts: 2,
        serversPerHost: 2,
        loadedHosts: ['host-1'],
        settings: { max_concurrent_live_migrations: 2 },
      }),
    });
    await (
      await h.command('help', { user: BOB })
    ).done;
    await (
      await h.command('host-1 --live')
    ).done;
    const run = await h.waitForRun('host-1');
    const preview = h.runMessage(run);
    const asPreviewed = { ...preview, blocks: [...preview.blocks] };
    await (
      await h.click(preview, ActionId.Confirm, { user: ALICE })
    ).done;
    await h.waitForRunState(run.id, ['finished']);
    await h.bot.reporter.drain();
    await (
      await h.command('status')
    ).done;
    // A refused click answers with an ephemeral through the response_url; force the fallback once.
    h.fake.injectFault({ method: 'response_url', status: 404, times: 1 });
    await (
      await h.click(asPreviewed, ActionId.Confirm, { user: 'U0EVE' })
    ).done;
    expect(h.fake.callsTo('chat.postEphemeral').length).toBeGreaterThan(0);

    const methods = new Set(
      h.fake.calls.map((call) => call.method).filter((method) => method !== 'response_url'),
    );
    for (const method of methods) expect(Object.keys(METHOD_SCOPES), `scope of ${method}`).toContain(method);
    const needed = new Set(
      [...methods].map((method) => METHOD_SCOPES[method]).filter((scope) => scope !== null),
    );
    needed.add('commands');
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
    expect(manifest.oauth_config.scopes.bot).not.toContain('chat:write.public');
  });
});
