/**
 * Small Block Kit primitives that stay inside Slack's limits by construction: every text they
 * accept is truncated to the limit of the place it goes, so a builder cannot produce a block
 * Slack would reject, whatever a server is called or whatever Nova says.
 */
import type { types as slack } from '@slack/bolt';
import { SlackLimits } from './limits.js';

export type KnownBlock = slack.KnownBlock;
export type SectionBlock = slack.SectionBlock;
export type ActionsBlock = slack.ActionsBlock;
export type ContextBlock = slack.ContextBlock;
export type HeaderBlock = slack.HeaderBlock;
export type Button = slack.Button;
export type StaticSelect = slack.StaticSelect;
export type PlainTextOption = slack.PlainTextOption;
export type ConfirmationDialog = slack.ConfirmationDialog;

/** What every builder returns: post it with chat.postMessage / chat.update / respond as is. */
export interface SlackMessage {
  /** Notification fallback (push notifications, screen readers, clients without blocks). */
  text: string;
  blocks: KnownBlock[];
}

export const ELLIPSIS = '…';

/**
 * Escapes the three characters Slack's mrkdwn treats as control characters. Everything that came
 * from OpenStack or a person (server names, Nova messages, reasons) goes through this, so a name like
 * `<!channel>` or `a&b` renders as written instead of pinging everyone or garbling the line.
 */
export function escapeMrkdwn(raw: string): string {
  return raw.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapedLength(char: string): number {
  if (char === '&') return 5;
  if (char === '<' || char === '>') return 4;
  return char.length;
}

/**
 * Cuts raw text to at most `max` characters, ending in `…` when it had to cut. Works on code points,
 * so an emoji or other astral character is never split into a lone surrogate.
 */
export function truncate(raw: string, max: number): string {
  if (raw.length <= max) return raw;
  if (max <= 0) return '';
  let out = '';
  for (const char of raw) {
    if (out.length + char.length > max - ELLIPSIS.length) break;
    out += char;
  }
  return out + ELLIPSIS;
}

/**
 * Escapes raw text for mrkdwn and cuts it so the escaped form fits in `max` characters. Cutting
 * before escaping means an entity such as `&amp;` is never split in half.
 */
export function escapeTruncated(raw: string, max: number): string {
  const escaped = escapeMrkdwn(raw);
  if (escaped.length <= max) return escaped;
  if (max <= 0) return '';
  let out = '';
  let length = 0;
  for (const char of raw) {
    const next = escapedLength(char);
    if (length + next > max - ELLIPSIS.length) break;
    out += char;
    length += next;
  }
  return escapeMrkdwn(out) + ELLIPSIS;
}

/**
 * Last-resort fit for mrkdwn assembled by a builder: cuts at a line break when it can, so links,
 * mentions and entities on earlier lines stay whole. Builders size their content first; this only
 * guards the limit.
 */
export function fitMrkdwn(text: string, max: number): string {
  if (text.length <= max) return text;
  const room = max - ELLIPSIS.length - 1;
  const lineBreak = text.lastIndexOf('\n', room);
  if (lineBreak > room / 2) return `${text.slice(0, lineBreak)}\n${ELLIPSIS}`;
  // One long line: cut before the last `<` or `&` that is not closed, so no link or entity is split.
  let cut = text.slice(0, room);
  const openLink = cut.lastIndexOf('<');
  if (openLink > cut.lastIndexOf('>')) cut = cut.slice(0, openLink);
  const openEntity = cut.lastIndexOf('&');
  if (openEntity >= 0 && !cut.slice(openEntity).includes(';')) cut = cut.slice(0, openEntity);
  // Never end on a lone high surrogate.
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut + ELLIPSIS;
}

/**
 * The notification fallback (`text`) of a message. Slack parses it as mrkdwn too, so it is built
 * from escaped parts like any section; this folds it onto one line and cuts it to `max`.
 */
export function fallbackText(escapedMrkdwn: string, max = 300): string {
  const fitted = fitMrkdwn(escapedMrkdwn.replace(/\s+/g, ' ').trim(), max);
  return fitted.length > 0 ? fitted : ' ';
}

/**
 * Puts text in a code block. Nova's messages and tracebacks are shown verbatim there; a run of
 * three backticks inside them would close the block early, so it is broken with a zero-width space.
 */
export function codeBlock(raw: string, max: number): string {
  const fence = '```';
  const defused = raw.replace(/```/g, '`\u200b``');
  return `${fence}${escapeTruncated(defused, max - 2 * fence.length)}${fence}`;
}

/** Inline code for an identifier (server id, request id): backticks inside are dropped. */
export function inlineCode(raw: string, max = 120): string {
  const clean = raw.replace(/`/g, "'");
  return `\`${escapeTruncated(clean, max - 2)}\``;
}

export function plainText(text: string, max: number): slack.PlainTextElement {
  const fitted = truncate(text, max);
  return { type: 'plain_text', text: fitted.length > 0 ? fitted : ' ', emoji: true };
}

export function mrkdwn(text: string, max: number = SlackLimits.sectionText): slack.MrkdwnElement {
  const fitted = fitMrkdwn(text, max);
  return { type: 'mrkdwn', text: fitted.length > 0 ? fitted : ' ' };
}

export function header(text: string): HeaderBlock {
  return { type: 'header', text: plainText(text, SlackLimits.headerText) };
}

export function section(text: string, blockId?: string): SectionBlock {
  return { type: 'section', text: mrkdwn(text), ...(blockId ? { block_id: blockId } : {}) };
}

/** A section of label/value fields (two columns on desktop). At most 10 are kept. */
export function fieldsSection(fields: string[]): SectionBlock {
  return {
    type: 'section',
    fields: fields
      .slice(0, SlackLimits.sectionFields)
      .map((field) => mrkdwn(field, SlackLimits.sectionFieldText)),
  };
}

export function context(texts: string[]): ContextBlock {
  return {
    type: 'context',
    elements: texts
      .slice(0, SlackLimits.contextElements)
      .map((text) => mrkdwn(text, SlackLimits.contextElementText)),
  };
}

export function divider(): KnownBlock {
  return { type: 'divider' };
}

export interface ConfirmDialogInput {
  title: string;
  /** mrkdwn, already escaped. */
  text: string;
  confirm: string;
  deny: string;
  style?: 'primary' | 'danger';
}

export function confirmDialog(input: ConfirmDialogInput): ConfirmationDialog {
  return {
    title: plainText(input.title, SlackLimits.confirmTitle),
    text: mrkdwn(input.text, SlackLimits.confirmText),
    confirm: plainText(input.confirm, SlackLimits.confirmButton),
    deny: plainText(input.deny, SlackLimits.confirmButton),
    ...(input.style ? { style: input.style } : {}),
  };
}

export interface ButtonInput {
  text: string;
  actionId: string;
  value: string;
  style?: 'primary' | 'danger';
  confirm?: ConfirmationDialog;
}

export function button(input: ButtonInput): Button {
  return {
    type: 'button',
    text: plainText(input.text, SlackLimits.buttonText),
    action_id: input.actionId,
    value: input.value,
    ...(input.style ? { style: input.style } : {}),
    ...(input.confirm ? { confirm: input.confirm } : {}),
  };
}

export function option(text: string, value: string, description?: string): PlainTextOption {
  return {
    text: plainText(text, SlackLimits.optionText),
    value,
    ...(description ? { description: plainText(description, SlackLimits.optionDescription) } : {}),
  };
}

export function actions(elements: slack.ActionsBlockElement[], blockId?: string): ActionsBlock {
  return {
    type: 'actions',
    elements: elements.slice(0, SlackLimits.actionsElements),
    ...(blockId ? { block_id: blockId } : {}),
  };
}

export interface PackOptions {
  /** Most sections the lines may use. */
  maxBlocks: number;
  /** Most characters of text the sections may hold in all. */
  maxChars: number;
  /** The closing line when not every line fits, e.g. "…and 12 more (full list in the thread)". */
  moreLine: (hidden: number) => string;
  /** Characters per section (default: Slack's section limit). */
  sectionChars?: number;
  /** Most lines shown, however much room is left (default: no limit). */
  maxLines?: number;
}

export interface PackedLines {
  blocks: SectionBlock[];
  /** How many of the lines are shown; the rest are summarised by `moreLine`. */
  shown: number;
}

/**
 * Packs mrkdwn lines (one per server, finding, run, ...) into as few sections as possible, within
 * a block and a character budget. When not all fit, as many as fit are shown followed by the
 * `moreLine`, which always has room reserved for it. A single line longer than a section is cut.
 */
export function packLines(lines: string[], options: PackOptions): PackedLines {
  const sectionChars = Math.min(options.sectionChars ?? SlackLimits.sectionText, SlackLimits.sectionText);
  const maxLines = options.maxLines ?? Number.POSITIVE_INFINITY;
  const linesFitted = lines.map((line) => fitMrkdwn(line, sectionChars));
  const fitsAll = (() => {
    let blocks = 0;
    let current = -1;
    let total = 0;
    for (const line of linesFitted) {
      const added = current < 0 ? line.length : line.length + 1;
      if (current < 0 || current + added > sectionChars) {
        blocks += 1;
        current = line.length;
      } else {
        current += added;
      }
      total += line.length + 1;
    }
    return blocks <= options.maxBlocks && total <= options.maxChars && lines.length <= maxLines;
  })();

  const reserve = fitsAll ? 0 : options.moreLine(lines.length).length + 1;
  const texts: string[] = [];
  let current: string | null = null;
  let total = 0;
  let shown = 0;
  for (const line of linesFitted) {
    if (shown >= maxLines) break;
    const addedChars = current === null ? line.length : line.length + 1;
    const needsNewBlock = current === null || current.length + addedChars + reserve > sectionChars;
    const blocksAfter = texts.length + (current === null ? 0 : 1) + (needsNewBlock ? 1 : 0);
    if (total + line.length + 1 + reserve > options.maxChars || blocksAfter > options.maxBlocks) break;
    if (needsNewBlock) {
      if (current !== null) texts.push(current);
      current = line;
    } else {
      current = `${current}\n${line}`;
    }
    total += line.length + 1;
    shown += 1;
  }
  const hidden = lines.length - shown;
  if (hidden > 0) {
    const more = options.moreLine(hidden);
    if (current === null) current = more;
    else current = `${current}\n${more}`;
  }
  if (current !== null) texts.push(current);
  return { blocks: texts.slice(0, Math.max(options.maxBlocks, 0)).map((text) => section(text)), shown };
}

/**
 * Splits lines into pages (one page = one message) of sections, each page within `maxBlocks`
 * sections and `maxChars` characters, each section within Slack's section limit. Nothing is
 * dropped: a line longer than a section is cut to fit, everything else moves to the next page.
 */
export function paginateLines(lines: string[], options: { maxBlocks: number; maxChars: number }): string[][] {
  const sectionChars = SlackLimits.sectionText;
  const pages: string[][] = [];
  let page: string[] = [];
  let pageChars = 0;
  let current: string | null = null;
  const closePage = () => {
    if (current !== null) page.push(current);
    if (page.length > 0) pages.push(page);
    page = [];
    pageChars = 0;
    current = null;
  };
  for (const raw of lines) {
    const line = fitMrkdwn(raw, Math.min(sectionChars, options.maxChars));
    if (pageChars + line.length + 1 > options.maxChars) closePage();
    if (current === null) {
      current = line;
    } else if (current.length + line.length + 1 <= sectionChars) {
      current = `${current}\n${line}`;
    } else {
      page.push(current);
      if (page.length >= options.maxBlocks) {
        pages.push(page);
        page = [];
        pageChars = 0;
      }
      current = line;
    }
    pageChars += line.length + 1;
  }
  closePage();
  return pages;
}
