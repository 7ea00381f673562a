import { describe, expect, it } from 'vitest';
import { SlackLimits, checkMessageLimits, messageTextLength } from '../../src/views/limits.js';

const text = (length: number, char = 'a') => char.repeat(length);
const mrkdwn = (value: string) => ({ type: 'mrkdwn', text: value });
const plain = (value: string) => ({ type: 'plain_text', text: value });
const buttonOf = (overrides: Record<string, unknown> = {}) => ({
  type: 'button',
  text: plain('Go'),
  action_id: 'go',
  value: 'v',
  ...overrides,
});
const selectOf = (count: number, overrides: Record<string, unknown> = {}) => ({
  type: 'static_select',
  action_id: 'pick',
  placeholder: plain('Pick'),
  options: Array.from({ length: count }, (_, i) => ({ text: plain(`Option ${i}`), value: `v${i}` })),
  ...overrides,
});
const message = (blocks: unknown[], fallback = 'fallback') => ({ text: fallback, blocks });

function messagesOf(violations: ReturnType<typeof checkMessageLimits>): string {
  return violations.map((violation) => `${violation.path}: ${violation.message}`).join('\n');
}

describe('checkMessageLimits', () => {
  it('accepts a message at every limit exactly', () => {
    const ok = message([
      { type: 'header', text: plain(text(150)) },
      { type: 'section', text: mrkdwn(text(3000)), block_id: text(255, 'b') },
      { type: 'section', fields: Array.from({ length: 10 }, () => mrkdwn(text(200))) },
      { type: 'context', elements: Array.from({ length: 10 }, () => mrkdwn('c')) },
      {
        type: 'actions',
        elements: [
          buttonOf({
            text: plain(text(75)),
            value: text(2000),
            action_id: text(255),
            style: 'danger',
            confirm: {
              title: plain(text(100)),
              text: mrkdwn(text(300)),
              confirm: plain(text(30)),
              deny: plain('No'),
            },
          }),
          selectOf(100, { initial_option: { text: plain('Option 3'), value: 'v3' } }),
        ],
      },
      { type: 'divider' },
    ]);
    expect(checkMessageLimits(ok)).toEqual([]);
  });

  it.each([
    ['51 blocks', message(Array.from({ length: 51 }, () => ({ type: 'divider' }))), /51 blocks \(max 50\)/],
    [
      'a long section',
      message([{ type: 'section', text: mrkdwn(text(3001)) }]),
      /section text is 3001 characters \(max 3000\)/,
    ],
    [
      '11 fields',
      message([{ type: 'section', fields: Array.from({ length: 11 }, () => mrkdwn('f')) }]),
      /11 fields/,
    ],
    ['a long field', message([{ type: 'section', fields: [mrkdwn(text(2001))] }]), /section field is 2001/],
    ['a long header', message([{ type: 'header', text: plain(text(151)) }]), /header text is 151/],
    ['a mrkdwn header', message([{ type: 'header', text: mrkdwn('x') }]), /header text must be plain_text/],
    [
      '11 context elements',
      message([{ type: 'context', elements: Array.from({ length: 11 }, () => mrkdwn('c')) }]),
      /11 elements/,
    ],
    [
      '26 actions',
      message([
        { type: 'actions', elements: Array.from({ length: 26 }, (_, i) => buttonOf({ action_id: `a${i}` })) },
      ]),
      /26 elements \(max 25\)/,
    ],
    [
      'a long button text',
      message([{ type: 'actions', elements: [buttonOf({ text: plain(text(76)) })] }]),
      /button text is 76/,
    ],
    [
      'a long button value',
      message([{ type: 'actions', elements: [buttonOf({ value: text(2001) })] }]),
      /button value is 2001/,
    ],
    [
      'a long action_id',
      message([{ type: 'actions', elements: [buttonOf({ action_id: text(256) })] }]),
      /action_id is 256/,
    ],
    ['a long block_id', message([{ type: 'divider', block_id: text(256) }]), /block_id is 256/],
    [
      'a bad button style',
      message([{ type: 'actions', elements: [buttonOf({ style: 'green' })] }]),
      /style "green"/,
    ],
    [
      'duplicate action ids',
      message([
        { type: 'actions', elements: [buttonOf()] },
        { type: 'actions', elements: [buttonOf()] },
      ]),
      /action_id "go" is also used at blocks\[0\]\.elements\[0\]\.action_id/,
    ],
    [
      'duplicate block ids',
      message([
        { type: 'divider', block_id: 'b' },
        { type: 'divider', block_id: 'b' },
      ]),
      /block_id "b" is also used/,
    ],
    ['101 options', message([{ type: 'actions', elements: [selectOf(101)] }]), /101 options \(max 100\)/],
    [
      'a long option value',
      message([
        { type: 'actions', elements: [selectOf(1, { options: [{ text: plain('x'), value: text(151) }] })] },
      ]),
      /option value is 151/,
    ],
    [
      'a long option text',
      message([
        { type: 'actions', elements: [selectOf(1, { options: [{ text: plain(text(76)), value: 'x' }] })] },
      ]),
      /option text is 76/,
    ],
    [
      'an initial option that is not an option',
      message([
        { type: 'actions', elements: [selectOf(2, { initial_option: { text: plain('x'), value: 'nope' } })] },
      ]),
      /initial_option is not one of the options/,
    ],
    [
      'duplicate option values',
      message([
        {
          type: 'actions',
          elements: [
            selectOf(2, {
              options: [
                { text: plain('a'), value: 'same' },
                { text: plain('b'), value: 'same' },
              ],
            }),
          ],
        },
      ]),
      /duplicate option values/,
    ],
    [
      'a long confirm title and text',
      message([
        {
          type: 'actions',
          elements: [
            buttonOf({
              confirm: {
                title: plain(text(101)),
                text: mrkdwn(text(301)),
                confirm: plain('Yes'),
                deny: plain('No'),
              },
            }),
          ],
        },
      ]),
      /confirm title is 101[\s\S]*confirm text is 301/,
    ],
    [
      'too much text in all',
      message(Array.from({ length: 5 }, () => ({ type: 'section', text: mrkdwn(text(2500)) }))),
      /12508 characters of text \(max about 12000\)/,
    ],
    ['empty text', message([{ type: 'section', text: mrkdwn('') }]), /section text is empty/],
    ['a missing fallback', { blocks: [{ type: 'divider' }] }, /fallback text is missing/],
    ['a blank fallback', message([], '   '), /fallback text is missing/],
    ['an unknown block', message([{ type: 'sparkles' }]), /unsupported block type "sparkles"/],
    [
      'a section with neither text nor fields',
      message([{ type: 'section' }]),
      /section needs text or fields/,
    ],
    [
      'an actions block without elements',
      message([{ type: 'actions', elements: [] }]),
      /actions block has no elements/,
    ],
    [
      'a text object of another type',
      message([{ type: 'section', text: { type: 'html', text: 'x' } }]),
      /text type "html"/,
    ],
    ['blocks that are not an array', { text: 'x', blocks: 'nope' }, /blocks must be an array/],
    ['a message that is not an object', 'hello', /message must be an object/],
  ])('reports %s', (_label, input, expected) => {
    const violations = checkMessageLimits(input);
    expect(violations.length).toBeGreaterThan(0);
    expect(messagesOf(violations)).toMatch(expected);
  });

  it('checks buttons in section accessories too', () => {
    const violations = checkMessageLimits(
      message([{ type: 'section', text: mrkdwn('x'), accessory: buttonOf({ text: plain(text(80)) }) }]),
    );
    expect(messagesOf(violations)).toMatch(/blocks\[0\]\.accessory\.text\.text: button text is 80/);
  });

  it('counts the fallback and every text object toward the total', () => {
    const counted = messageTextLength(
      message(
        [
          { type: 'section', text: mrkdwn('12345') },
          { type: 'actions', elements: [buttonOf()] },
        ],
        'abc',
      ),
    );
    expect(counted).toBe(3 + 5 + 2);
    expect(SlackLimits.messageTextBudget).toBeLessThan(SlackLimits.messageText);
  });
});
