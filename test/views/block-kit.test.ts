import { describe, expect, it } from 'vitest';
import {
  codeBlock,
  escapeMrkdwn,
  escapeTruncated,
  fitMrkdwn,
  packLines,
  paginateLines,
  truncate,
} from '../../src/views/block-kit.js';
import { formatDuration, formatEstimate, progressBar, userRef } from '../../src/views/format.js';

const hasLoneSurrogate = (value: string) =>
  /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value);

describe('escaping and truncation', () => {
  it('escapes the mrkdwn control characters', () => {
    expect(escapeMrkdwn('<!channel> a&b > c')).toBe('&lt;!channel&gt; a&amp;b &gt; c');
  });

  it('never splits an entity, whatever the cut', () => {
    const raw = 'a&<b>&&c<>'.repeat(20);
    for (let max = 1; max < 120; max++) {
      const out = escapeTruncated(raw, max);
      expect(out.length).toBeLessThanOrEqual(max);
      const body = out.endsWith('…') ? out.slice(0, -1) : out;
      expect(body.replace(/&(amp|lt|gt);/g, '')).not.toMatch(/[&<>]/);
    }
  });

  it('never splits a surrogate pair', () => {
    const raw = '🚀'.repeat(50);
    for (let max = 1; max < 40; max++) {
      expect(hasLoneSurrogate(truncate(raw, max))).toBe(false);
      expect(hasLoneSurrogate(escapeTruncated(raw, max))).toBe(false);
      expect(truncate(raw, max).length).toBeLessThanOrEqual(max);
    }
  });

  it('fits assembled mrkdwn at a line break and never inside a link', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i} <@U123|someone>`).join('\n');
    const fitted = fitMrkdwn(lines, 500);
    expect(fitted.length).toBeLessThanOrEqual(500);
    expect(fitted.endsWith('\n…')).toBe(true);
    const oneLine = `${'x'.repeat(95)}<https://example.com/${'y'.repeat(50)}|link>`;
    const cut = fitMrkdwn(oneLine, 120);
    expect(cut.length).toBeLessThanOrEqual(120);
    expect(cut).not.toContain('<');
  });

  it('keeps a code block closed when the text holds backticks', () => {
    const block = codeBlock('before ``` after & <tag>', 200);
    expect(block.startsWith('```')).toBe(true);
    expect(block.endsWith('```')).toBe(true);
    expect(block.slice(3, -3)).not.toContain('```');
    expect(block).toContain('&amp; &lt;tag&gt;');
  });
});

describe('packLines', () => {
  const lines = Array.from({ length: 500 }, (_, i) => `• server-${i} ${'x'.repeat(50)}`);

  it('shows everything when it fits', () => {
    const packed = packLines(lines.slice(0, 10), {
      maxBlocks: 5,
      maxChars: 10_000,
      moreLine: (n) => `…and ${n} more`,
    });
    expect(packed.shown).toBe(10);
    expect(packed.blocks).toHaveLength(1);
    expect(packed.blocks[0]!.text!.text).not.toContain('more');
  });

  it('cuts at the budget with a closing line that counts the hidden ones', () => {
    const packed = packLines(lines, { maxBlocks: 3, maxChars: 5000, moreLine: (n) => `…and ${n} more` });
    const texts = packed.blocks.map((block) => block.text!.text);
    const total = texts.join('\n').length;
    expect(total).toBeLessThanOrEqual(5000);
    expect(packed.blocks.length).toBeLessThanOrEqual(3);
    for (const text of texts) expect(text.length).toBeLessThanOrEqual(3000);
    expect(texts.at(-1)).toMatch(new RegExp(`…and ${500 - packed.shown} more$`));
    expect(
      texts
        .join('\n')
        .split('\n')
        .filter((line) => line.startsWith('• ')),
    ).toHaveLength(packed.shown);
  });

  it('respects a line cap', () => {
    const packed = packLines(lines, { maxBlocks: 3, maxChars: 9000, maxLines: 4, moreLine: (n) => `+${n}` });
    expect(packed.shown).toBe(4);
    expect(packed.blocks[0]!.text!.text.endsWith('+496')).toBe(true);
  });
});

describe('paginateLines', () => {
  it('drops nothing and keeps every page and section within its limits', () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `• server-${i} ${'y'.repeat(i % 300)}`);
    const pages = paginateLines(lines, { maxBlocks: 10, maxChars: 9000 });
    const all = pages.flat().join('\n').split('\n');
    expect(all).toEqual(lines);
    for (const page of pages) {
      expect(page.length).toBeLessThanOrEqual(10);
      expect(page.join('\n').length).toBeLessThanOrEqual(9000);
      for (const section of page) expect(section.length).toBeLessThanOrEqual(3000);
    }
  });
});

describe('formatting', () => {
  it('formats durations and estimates', () => {
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(190_000)).toBe('3 min 10 s');
    expect(formatDuration(3_900_000)).toBe('1 h 5 min');
    expect(formatDuration(3 * 86_400_000)).toBe('3 d');
    expect(formatDuration(-1)).toBe('unknown');
    expect(formatEstimate(30_000)).toBe('under a minute');
    expect(formatEstimate(161_000)).toBe('about 3 min');
  });

  it('draws the progress bar', () => {
    expect(progressBar(0.48)).toBe('▓▓▓▓░░░░░░ 48%');
    expect(progressBar(0)).toBe('░░░░░░░░░░ 0%');
    expect(progressBar(1)).toBe('▓▓▓▓▓▓▓▓▓▓ 100%');
    expect(progressBar(Number.NaN)).toBe('░░░░░░░░░░ 0%');
    expect(progressBar(7)).toBe('▓▓▓▓▓▓▓▓▓▓ 100%');
  });

  it('mentions Slack users and escapes anything else', () => {
    expect(userRef('U024BE7LH')).toBe('<@U024BE7LH>');
    expect(userRef('alice <admin>')).toBe('alice &lt;admin&gt;');
    expect(userRef(null)).toBe('someone');
  });
});
