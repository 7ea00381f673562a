/**
 * Test helpers to look inside Block Kit messages without caring about block order or layout.
 */
import { expect } from 'vitest';
import type { SlackMessage } from '../../src/views/block-kit.js';
import { checkMessageLimits } from '../../src/views/limits.js';

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function walk(value: unknown, visit: (node: Json) => void): void {
  if (Array.isArray(value)) value.forEach((item) => walk(item, visit));
  else if (isRecord(value)) {
    visit(value);
    Object.values(value).forEach((child) => walk(child, visit));
  }
}

/** Every text of the blocks (sections, fields, headers, context, buttons, options, dialogs), joined by newlines. */
export function blockText(message: SlackMessage): string {
  const texts: string[] = [];
  walk(message.blocks, (node) => {
    if ((node.type === 'mrkdwn' || node.type === 'plain_text') && typeof node.text === 'string')
      texts.push(node.text);
  });
  return texts.join('\n');
}

/** Text of the visible blocks only (no dialogs, no option labels): what the channel reads. */
export function visibleText(message: SlackMessage): string {
  const texts: string[] = [];
  for (const block of message.blocks as unknown[]) {
    if (!isRecord(block)) continue;
    if (block.type === 'actions') continue;
    walk({ ...block, accessory: undefined }, (node) => {
      if ((node.type === 'mrkdwn' || node.type === 'plain_text') && typeof node.text === 'string') {
        texts.push(node.text);
      }
    });
  }
  return texts.join('\n');
}

export interface FoundElement {
  type: string;
  action_id: string;
  value?: string;
  style?: string;
  text?: { text: string };
  confirm?: {
    title: { text: string };
    text: { text: string };
    confirm: { text: string };
    deny: { text: string };
  };
  options?: Array<{ text: { text: string }; value: string }>;
  initial_option?: { text: { text: string }; value: string };
  blockId?: string;
}

/** Every interactive element with its action id, with the block_id of the block it sits in. */
export function elements(message: SlackMessage): FoundElement[] {
  const found: FoundElement[] = [];
  for (const block of message.blocks as unknown[]) {
    if (!isRecord(block)) continue;
    const blockId = typeof block.block_id === 'string' ? block.block_id : undefined;
    walk(block, (node) => {
      if (typeof node.action_id === 'string') {
        found.push({ ...(node as unknown as FoundElement), ...(blockId ? { blockId } : {}) });
      }
    });
  }
  return found;
}

export function actionIds(message: SlackMessage): string[] {
  return elements(message).map((element) => element.action_id);
}

export function element(message: SlackMessage, actionId: string): FoundElement {
  const found = elements(message).filter((candidate) => candidate.action_id === actionId);
  expect(found, `exactly one element with action_id ${actionId}`).toHaveLength(1);
  return found[0]!;
}

/** Asserts the message is within every Slack limit, printing the violations when not. */
export function expectWithinLimits(message: SlackMessage, label = 'message'): void {
  expect(checkMessageLimits(message), label).toEqual([]);
}
