import { describe, expect, it } from 'vitest';
import { parseConfirm, renderBlocks } from '../../src/workspace/page/blocks.js';
import { mrkdwnToHtml, plainTextToHtml, type MrkdwnContext } from '../../src/workspace/page/mrkdwn.js';

const ctx: MrkdwnContext = {
  userName: (id) => ({ ULOCAL1: 'You', ULOCAL2: 'Sam Second' })[id],
  channelName: (id) => (id === 'CLOCALOPS' ? 'ops-evacuations' : undefined),
  localOrigin: 'http://127.0.0.1:3000',
  timeZone: 'UTC',
};

describe('mrkdwn', () => {
  it('renders bold, italic, strike and keeps snake_case names intact', () => {
    expect(mrkdwnToHtml('*bold* _italic_ ~gone~ web_server_1', ctx)).toBe(
      '<b>bold</b> <i>italic</i> <s>gone</s> web_server_1',
    );
    expect(mrkdwnToHtml('2 * 3 * 4', ctx)).toBe('2 * 3 * 4');
    expect(mrkdwnToHtml('*Moved:* 3', ctx)).toBe('<b>Moved:</b> 3');
  });

  it('renders inline code and code blocks verbatim, without formatting inside', () => {
    expect(mrkdwnToHtml('run `*not bold*` now', ctx)).toBe('run <code>*not bold*</code> now');
    expect(mrkdwnToHtml('```line 1\n*x* &lt;tag&gt;```', ctx)).toBe(
      '<pre class="code-block">line 1\n*x* &lt;tag&gt;</pre>',
    );
  });

  it('renders links, mentions, channels, groups and special mentions', () => {
    expect(mrkdwnToHtml('<https://example.com/a?b=1&amp;c=2|the docs>', ctx)).toBe(
      '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">the docs</a>',
    );
    expect(mrkdwnToHtml('<http://127.0.0.1:3000/archives/C/p1|status>', ctx)).toContain(
      'data-local-link="true"',
    );
    expect(mrkdwnToHtml('by <@ULOCAL2>', ctx)).toBe(
      'by <span class="mention" data-user-id="ULOCAL2">@Sam Second</span>',
    );
    expect(mrkdwnToHtml('<@UUNKNOWN1>', ctx)).toContain('@UUNKNOWN1');
    expect(mrkdwnToHtml('<#CLOCALOPS>', ctx)).toContain('#ops-evacuations');
    expect(mrkdwnToHtml('<!subteam^S1|@oncall> <!here>', ctx)).toBe(
      '<span class="mention group">@oncall</span> <span class="mention special">@here</span>',
    );
  });

  it('never lets text become markup: raw HTML and javascript: links are inert', () => {
    expect(mrkdwnToHtml('<script>alert(1)</script>', ctx)).not.toContain('<script');
    expect(mrkdwnToHtml('<javascript:alert(1)|click>', ctx)).toBe('click');
    expect(mrkdwnToHtml('a "quote" & <b', ctx)).toBe('a &quot;quote&quot; &amp; &lt;b');
    expect(mrkdwnToHtml('&lt;!channel&gt; a&amp;b', ctx)).toBe('&lt;!channel&gt; a&amp;b');
    expect(plainTextToHtml('<img src=x onerror=alert(1)> &lt;')).toBe(
      '&lt;img src=x onerror=alert(1)&gt; &amp;lt;',
    );
  });

  it("renders dates in the reader's zone with the fallback as title", () => {
    const html = mrkdwnToHtml('<!date^1700000000^{date_num} {time}|2023-11-14T22:13:20Z>', ctx);
    expect(html).toContain('2023-11-14 10:13 PM');
    expect(html).toContain('datetime="2023-11-14T22:13:20.000Z"');
  });

  it('renders the emoji the bot uses and leaves unknown shortcodes alone', () => {
    expect(mrkdwnToHtml(':white_check_mark: done :not_an_emoji: 10:42:00', ctx)).toBe(
      '<span class="emoji" title=":white_check_mark:">✅</span> done :not_an_emoji: 10:42:00',
    );
  });

  it('renders quotes and line breaks', () => {
    expect(mrkdwnToHtml('&gt; quoted\n&gt; more\nafter', ctx)).toBe(
      '<blockquote>quoted<br>more</blockquote>after',
    );
  });
});

describe('Block Kit', () => {
  const blocks = [
    {
      type: 'header',
      block_id: 'h',
      text: { type: 'plain_text', text: 'Evacuate host-2 :rotating_light:', emoji: true },
    },
    {
      type: 'section',
      block_id: 's',
      text: { type: 'mrkdwn', text: '*6 servers*' },
      fields: [
        { type: 'mrkdwn', text: '*Mode*\nlive' },
        { type: 'mrkdwn', text: '*Parallel*\n4' },
      ],
      accessory: {
        type: 'static_select',
        action_id: 'mode',
        placeholder: { type: 'plain_text', text: 'Mode' },
        initial_option: { text: { type: 'plain_text', text: 'Live' }, value: 'live' },
        options: [
          { text: { type: 'plain_text', text: 'Auto' }, value: 'auto' },
          { text: { type: 'plain_text', text: 'Live' }, value: 'live' },
        ],
      },
    },
    { type: 'divider', block_id: 'd' },
    { type: 'context', block_id: 'c', elements: [{ type: 'mrkdwn', text: 'Requested by <@ULOCAL1>' }] },
    {
      type: 'actions',
      block_id: 'a',
      elements: [
        {
          type: 'button',
          action_id: 'confirm',
          style: 'danger',
          text: { type: 'plain_text', text: 'Confirm' },
          confirm: {
            title: { type: 'plain_text', text: 'Evacuate host-2?' },
            text: { type: 'mrkdwn', text: '*6 servers* will move' },
            confirm: { type: 'plain_text', text: 'Move them' },
            deny: { type: 'plain_text', text: 'Not now' },
            style: 'danger',
          },
        },
        { type: 'button', action_id: 'cancel', text: { type: 'plain_text', text: 'Cancel' } },
      ],
    },
    { type: 'video', block_id: 'v' },
  ];

  it('lays out every block the bot sends', () => {
    const html = renderBlocks(blocks, ctx);
    expect(html).toContain(
      '<div class="bk-header">Evacuate host-2 <span class="emoji" title=":rotating_light:">🚨</span></div>',
    );
    expect(html).toContain('<div class="bk-fields"><div class="bk-field"><b>Mode</b><br>live</div>');
    expect(html).toContain('<hr class="bk-divider">');
    expect(html).toContain(
      '<div class="bk-context"><span class="bk-context-item">Requested by <span class="mention"',
    );
    expect(html).toContain(
      'class="bk-button bk-button-danger" data-block-id="a" data-action-id="confirm" data-confirm=',
    );
    expect(html).toContain('class="bk-button" data-block-id="a" data-action-id="cancel"');
    expect(html).toContain('This video block cannot be shown in the local workspace.');
  });

  it("selects the initial option, or the page's own choice until the bot re-renders", () => {
    expect(renderBlocks(blocks, ctx)).toContain('<option value="live" selected>Live</option>');
    const chosen = renderBlocks(blocks, ctx, { s: { mode: 'auto' } });
    expect(chosen).toContain('<option value="auto" selected>Auto</option>');
    expect(chosen).not.toContain('<option value="live" selected>');
  });

  it('carries the confirm dialog for the modal', () => {
    const html = renderBlocks(blocks, ctx);
    const match = /data-confirm="([^"]*)"/.exec(html);
    const json = match![1]!
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&#39;/g, "'");
    const dialog = parseConfirm(json, ctx)!;
    expect(dialog.titleHtml).toBe('Evacuate host-2?');
    expect(dialog.textHtml).toBe('<b>6 servers</b> will move');
    expect(dialog.confirmLabel).toBe('Move them');
    expect(dialog.denyLabel).toBe('Not now');
    expect(dialog.style).toBe('danger');
    expect(parseConfirm('not json', ctx)).toBeNull();
  });
});
