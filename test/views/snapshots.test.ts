/**
 * Snapshots of a few messages as a reviewer would read them (in addition to the explicit
 * assertions elsewhere): a change to wording or layout shows up in review as a readable diff.
 */
import { describe, expect, it } from 'vitest';
import type { SlackMessage } from '../../src/views/block-kit.js';
import {
  failureThreadMessage,
  previewMessage,
  statusMessage,
  summaryMessage,
} from '../../src/views/index.js';
import { FIXTURE_EPOCH, makeRun } from './fixtures.js';

interface TextLike {
  text?: string;
}
interface RenderedBlock {
  type: string;
  text?: TextLike;
  fields?: TextLike[];
  elements?: Array<{ action_id?: string; text?: TextLike | string; initial_option?: { text: TextLike } }>;
}

/** The message as text: one block per paragraph, interactive elements as [action_id: label]. */
function render(message: SlackMessage): string {
  const out = [`text: ${message.text}`];
  for (const block of message.blocks as unknown as RenderedBlock[]) {
    if (block.type === 'divider') {
      out.push('---');
    } else if (block.type === 'actions') {
      const labels = (block.elements ?? []).map((element) => {
        const label =
          typeof element.text === 'object' ? element.text.text : element.initial_option?.text.text;
        return `[${element.action_id}: ${label}]`;
      });
      out.push(labels.join(' '));
    } else {
      const texts = [
        block.text?.text,
        ...(block.fields ?? []).map((field) => field.text),
        ...(block.elements ?? []).map((element) =>
          typeof element.text === 'string' ? element.text : undefined,
        ),
      ];
      out.push(texts.filter((text) => text !== undefined).join('\n'));
    }
  }
  return out.join('\n\n');
}

describe('rendered messages', () => {
  it('preview', () => {
    expect(render(previewMessage(makeRun({ servers: 9 }), { canRun: true }))).toMatchSnapshot();
  });
  it('status while running', () => {
    expect(
      render(statusMessage(makeRun({ servers: 14, state: 'running' }), new Date(FIXTURE_EPOCH + 600_000))),
    ).toMatchSnapshot();
  });
  it('summary', () => {
    expect(render(summaryMessage(makeRun({ servers: 14, state: 'finished' })))).toMatchSnapshot();
  });
  it('failure', () => {
    const run = makeRun({ servers: 14, state: 'running' });
    const failed = run.servers.find((server) => server.state === 'failed')!;
    expect(render(failureThreadMessage(run, { ...failed, action: 'live-migrate' }))).toMatchSnapshot();
  });
});
