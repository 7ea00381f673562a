/**
 * `/evacuate help` and the ephemeral error replies to a command that cannot be carried out.
 */
import {
  type KnownBlock,
  type SlackMessage,
  context,
  escapeMrkdwn,
  escapeTruncated,
  fallbackText,
  header,
  inlineCode,
  section,
  truncate,
} from './block-kit.js';

/** What the caller may do, as the Slack app's authorisation decides it. */
export interface HelpPermissions {
  /** Preview plans (and `/evacuate status`). */
  preview: boolean;
  live: boolean;
  cold: boolean;
  /** Evacuate (rebuild) servers of a down host. */
  evacuate: boolean;
  /** Use the run controls: stop, retry, re-enable, abort, force complete. */
  control: boolean;
}

export const EVACUATE_USAGE =
  '/evacuate HOST [--live|--cold|--rebuild] [--to HOST] [--parallel N] [--dry-run] [--keep-enabled] [--fenced] [--reason "…"]';

interface FlagHelp {
  flag: string;
  text: string;
  /** Shown when this returns true for the caller's permissions. */
  shownTo: (allowed: HelpPermissions) => boolean;
}

const mayMove = (allowed: HelpPermissions) => allowed.live || allowed.cold || allowed.evacuate;

const FLAGS: readonly FlagHelp[] = [
  { flag: '--live', text: 'live-migrate every server (the host must be up)', shownTo: (a) => a.live },
  {
    flag: '--cold',
    text: 'cold-migrate: servers are shut down and restarted elsewhere',
    shownTo: (a) => a.cold,
  },
  {
    flag: '--rebuild',
    text: 'evacuate: rebuild the servers of a *down* host on other hosts',
    shownTo: (a) => a.evacuate,
  },
  {
    flag: '--fenced',
    text: 'you state the host is powered off / isolated, so its service may be forced down for evacuation',
    shownTo: (a) => a.evacuate,
  },
  {
    flag: '--to HOST',
    text: 'send every server to this host instead of letting the scheduler choose',
    shownTo: mayMove,
  },
  { flag: '--parallel N', text: 'move N servers at a time', shownTo: mayMove },
  { flag: '--keep-enabled', text: 'do not disable the compute service first', shownTo: mayMove },
  { flag: '--reason "…"', text: 'why; shown to the team and kept in the audit log', shownTo: mayMove },
  { flag: '--dry-run', text: 'show the plan only, with no Confirm button', shownTo: (a) => a.preview },
];

interface Example {
  command: string;
  shownTo: (allowed: HelpPermissions) => boolean;
}

const EXAMPLES: readonly Example[] = [
  { command: '/evacuate host-12', shownTo: mayMove },
  { command: '/evacuate host-12 --dry-run', shownTo: (a) => a.preview },
  { command: '/evacuate host-12 --live --parallel 4 --reason "kernel upgrade"', shownTo: (a) => a.live },
  { command: '/evacuate host-12 --cold --to host-3', shownTo: (a) => a.cold },
  { command: '/evacuate host-12 --rebuild --fenced --reason "PSU failure"', shownTo: (a) => a.evacuate },
  { command: '/evacuate status', shownTo: (a) => a.preview || a.control },
];

/**
 * `/evacuate help`, showing only what the caller may run: the usage line, the flags that apply,
 * examples, and whether they may use the run controls.
 */
export function helpMessage(allowed: HelpPermissions): SlackMessage {
  const anything = allowed.preview || allowed.control || mayMove(allowed);
  if (!anything) {
    const text = 'You are not authorised to use /evacuate. Ask your cloud operations team for access.';
    return { text, blocks: [section(`🔒 ${text}`)] };
  }
  const blocks: KnownBlock[] = [header('/evacuate: drain or evacuate a compute host')];
  const usage: string[] = [];
  if (allowed.preview || mayMove(allowed)) usage.push(inlineCode('/evacuate HOST [flags]'));
  if (allowed.preview || allowed.control) usage.push(inlineCode('/evacuate status'));
  usage.push(inlineCode('/evacuate help'));
  blocks.push(
    section(
      `*Usage:* ${usage.join(' · ')}\n` +
        (mayMove(allowed)
          ? 'Every command starts with a preview in the channel; nothing moves until someone confirms it.'
          : 'You may preview evacuations; starting one needs more rights.'),
    ),
  );
  const flags = FLAGS.filter((flag) => flag.shownTo(allowed));
  if (flags.length > 0) {
    blocks.push(
      section(['*Flags*', ...flags.map((flag) => `${inlineCode(flag.flag)} ${flag.text}`)].join('\n')),
    );
  }
  const modes = [allowed.live && 'live', allowed.cold && 'cold', allowed.evacuate && 'evacuate'].filter(
    (mode): mode is string => typeof mode === 'string',
  );
  if (modes.length > 0) {
    blocks.push(
      context([
        `Without a mode flag the bot picks one from the host's state: live migration while its service is up, evacuation once it is down. You may run: ${modes.join(', ')}.`,
      ]),
    );
  }
  const examples = EXAMPLES.filter((example) => example.shownTo(allowed));
  if (examples.length > 0) {
    blocks.push(
      section(['*Examples*', ...examples.map((example) => inlineCode(example.command))].join('\n')),
    );
  }
  blocks.push(
    context([
      allowed.control
        ? 'You may use the run controls: Stop, Retry, Re-enable host, Abort / Force complete a live migration.'
        : 'The run controls (Stop, Retry, Re-enable) are for operators with control rights.',
    ]),
  );
  return { text: `/evacuate help: ${truncate(usage.join(' '), 200).replace(/`/g, '')}`, blocks };
}

/**
 * An ephemeral reply to a command that cannot be carried out: what is wrong, and the usage line
 * when the command itself was malformed. Send it with `response_type: 'ephemeral'` / `respond`.
 */
export function errorMessage(text: string, usage?: string): SlackMessage {
  const message = text.trim().length > 0 ? text.trim() : 'Something went wrong.';
  const blocks: KnownBlock[] = [section(`⚠️ ${escapeTruncated(message, 2900)}`)];
  if (usage) blocks.push(context([`Usage: ${inlineCode(usage, 2000)}`]));
  return { text: fallbackText(`⚠️ ${escapeMrkdwn(message)}`), blocks };
}
