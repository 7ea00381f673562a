/**
 * Slack's mrkdwn as HTML, for the local workspace page. Pure string functions (no DOM), so the
 * rules are unit-tested in Node and the page only assigns the result.
 *
 * Slack text arrives with `&`, `<` and `>` already escaped as `&amp;`, `&lt;`, `&gt;`; a raw `<`
 * only ever opens a link, mention or date. Anything else that could be HTML is escaped here.
 */
import { emojiFor } from './emoji.js';

export interface MrkdwnContext {
  /** Display name for a user id, or undefined when unknown (the id is shown then). */
  userName(id: string): string | undefined;
  channelName(id: string): string | undefined;
  /** Links under this origin open inside the page (permalinks) instead of a new tab. */
  localOrigin?: string;
  /** For `<!date^…>`; tests pass a fixed zone. */
  timeZone?: string;
}

/** Escapes text for HTML, keeping the three entities Slack already escaped. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&(?!(?:amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);)/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Escapes any text (not Slack-escaped) for an HTML attribute value. */
export function escapeAttribute(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Slack's entities back to characters: for URLs, which are attribute values, not markup. */
function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export function replaceEmoji(html: string): string {
  return html.replace(/:([a-z0-9_+-]+):/g, (whole, name: string) => {
    const emoji = emojiFor(name);
    return emoji ? `<span class="emoji" title=":${name}:">${emoji}</span>` : whole;
  });
}

/** plain_text objects: no formatting, emoji shortcodes only when `emoji` is not false. */
export function plainTextToHtml(text: string, emoji = true): string {
  // plain_text is not Slack-escaped: `&lt;` in it is literally those four characters.
  const escaped = escapeAttribute(text);
  return emoji ? replaceEmoji(escaped) : escaped;
}

const SAFE_URL = /^(https?:|mailto:)/i;

function renderDate(token: string, ctx: MrkdwnContext): string {
  // <!date^1392734382^{date_short_pretty} {time}^optional_link|fallback>
  const [spec, fallback = ''] = splitOnce(token, '|');
  const parts = spec.split('^');
  const epoch = Number(parts[1]);
  const format = parts[2] ?? '';
  if (!Number.isFinite(epoch)) return escapeHtml(fallback);
  const date = new Date(epoch * 1000);
  const zone = ctx.timeZone ? { timeZone: ctx.timeZone } : {};
  const pieces: Record<string, () => string> = {
    date_num: () => date.toLocaleDateString('en-CA', zone),
    date: () => date.toLocaleDateString('en-US', { ...zone, month: 'long', day: 'numeric', year: 'numeric' }),
    date_short: () =>
      date.toLocaleDateString('en-US', { ...zone, month: 'short', day: 'numeric', year: 'numeric' }),
    date_long: () =>
      date.toLocaleDateString('en-US', {
        ...zone,
        weekday: 'long',
        month: 'long',
        day: 'numeric',
        year: 'numeric',
      }),
    date_pretty: () => prettyDay(date, zone, 'long'),
    date_short_pretty: () => prettyDay(date, zone, 'short'),
    date_long_pretty: () => prettyDay(date, zone, 'long'),
    time: () => date.toLocaleTimeString('en-US', { ...zone, hour: 'numeric', minute: '2-digit' }),
    time_secs: () =>
      date.toLocaleTimeString('en-US', { ...zone, hour: 'numeric', minute: '2-digit', second: '2-digit' }),
  };
  const text = format.replace(/\{(\w+)\}/g, (whole, name: string) => pieces[name]?.() ?? whole);
  return `<time datetime="${date.toISOString()}" title="${escapeAttribute(date.toISOString())}">${escapeHtml(text)}</time>`;
}

function prettyDay(date: Date, zone: { timeZone?: string }, style: 'short' | 'long'): string {
  const day = (d: Date) => d.toLocaleDateString('en-CA', zone);
  const today = new Date();
  const yesterday = new Date(today.getTime() - 86_400_000);
  if (day(date) === day(today)) return 'Today';
  if (day(date) === day(yesterday)) return 'Yesterday';
  return date.toLocaleDateString('en-US', {
    ...zone,
    month: style === 'short' ? 'short' : 'long',
    day: 'numeric',
  });
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const index = text.indexOf(separator);
  return index < 0 ? [text, undefined] : [text.slice(0, index), text.slice(index + 1)];
}

/** One `<…>` token: link, user/channel/group mention, special mention or date. */
function renderAngleToken(inner: string, ctx: MrkdwnContext): string {
  if (inner.startsWith('@')) {
    const [id, label] = splitOnce(inner.slice(1), '|');
    const name = ctx.userName(id) ?? label ?? id;
    return `<span class="mention" data-user-id="${escapeAttribute(id)}">@${escapeHtml(name)}</span>`;
  }
  if (inner.startsWith('#')) {
    const [id, label] = splitOnce(inner.slice(1), '|');
    const name = ctx.channelName(id) ?? label ?? id;
    return `<span class="mention channel">#${escapeHtml(name)}</span>`;
  }
  if (inner.startsWith('!')) {
    const special = inner.slice(1);
    if (special.startsWith('date^')) return renderDate(special, ctx);
    if (special.startsWith('subteam^')) {
      const [id, label] = splitOnce(special.slice('subteam^'.length), '|');
      return `<span class="mention group">${escapeHtml(label ?? `@${id}`)}</span>`;
    }
    const [name, label] = splitOnce(special, '|');
    return `<span class="mention special">${escapeHtml(label ?? `@${name}`)}</span>`;
  }
  const [rawUrl, label] = splitOnce(inner, '|');
  const url = unescapeSlack(rawUrl);
  const text = label !== undefined && label !== '' ? escapeHtml(label) : escapeHtml(rawUrl);
  if (!SAFE_URL.test(url)) return text;
  const local = ctx.localOrigin !== undefined && url.startsWith(`${ctx.localOrigin}/`);
  const target = local ? ' data-local-link="true"' : ' target="_blank" rel="noopener noreferrer"';
  return `<a href="${escapeAttribute(url)}"${target}>${text}</a>`;
}

/** Bold, italic and strike need a boundary on the outside and text right inside the markers. */
function inlineFormatting(html: string): string {
  const wrap = (html: string, marker: string, tag: string) =>
    html.replace(
      new RegExp(
        `(^|[^\\w${marker}])\\${marker}(?=\\S)([^\\${marker}\\n]*?[^\\s])\\${marker}(?![\\w${marker}])`,
        'g',
      ),
      `$1<${tag}>$2</${tag}>`,
    );
  return wrap(wrap(wrap(html, '*', 'b'), '_', 'i'), '~', 's');
}

/** Slack mrkdwn → HTML. */
export function mrkdwnToHtml(text: string, ctx: MrkdwnContext): string {
  const stash: string[] = [];
  // Private-use characters as placeholders: formatting regexes see them as ordinary text.
  const keep = (html: string) => `\uE000${stash.push(html) - 1}\uE001`;

  let work = text.replace(/```\n?([\s\S]*?)```/g, (_whole, code: string) =>
    keep(`<pre class="code-block">${escapeHtml(code)}</pre>`),
  );
  work = work.replace(/`([^`\n]+)`/g, (_whole, code: string) => keep(`<code>${escapeHtml(code)}</code>`));
  work = work.replace(/<([^<>\n]+)>/g, (_whole, inner: string) => keep(renderAngleToken(inner, ctx)));
  work = escapeHtml(work);
  work = inlineFormatting(work);
  work = replaceEmoji(work);

  // Quotes: consecutive lines starting with "> " (escaped by now) form one block.
  const lines = work.split('\n');
  const out: string[] = [];
  let quote: string[] = [];
  const flushQuote = () => {
    if (quote.length > 0) out.push(`<blockquote>${quote.join('<br>')}</blockquote>`);
    quote = [];
  };
  for (const line of lines) {
    const match = /^&gt;\s?(.*)$/.exec(line);
    if (match) {
      quote.push(match[1] ?? '');
    } else {
      flushQuote();
      out.push(line);
    }
  }
  flushQuote();
  work = out
    .join('\n')
    .replace(/\n/g, '<br>')
    .replace(/<\/blockquote><br>/g, '</blockquote>');

  return work.replace(/\uE000(\d+)\uE001/g, (_whole, index: string) => stash[Number(index)] ?? '');
}
