/**
 * Block Kit as HTML, the way Slack's desktop client lays it out. Pure string functions: the page
 * assigns the HTML and handles clicks by delegation, reading the `data-*` attributes set here.
 */
import { escapeAttribute, escapeHtml, mrkdwnToHtml, plainTextToHtml, type MrkdwnContext } from './mrkdwn.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A text object (`plain_text` or `mrkdwn`) as HTML. */
export function textObjectToHtml(value: unknown, ctx: MrkdwnContext): string {
  if (!isObject(value) || typeof value.text !== 'string') return '';
  if (value.type === 'mrkdwn')
    return value.verbatim === true ? escapeHtml(value.text) : mrkdwnToHtml(value.text, ctx);
  return plainTextToHtml(value.text, value.emoji !== false);
}

/** Plain text of a text object, for attributes and `<option>` labels (no markup allowed there). */
function textObjectPlain(value: unknown): string {
  return isObject(value) && typeof value.text === 'string' ? value.text : '';
}

function dataAttributes(element: Json, blockId: string): string {
  const attributes = [
    `data-block-id="${escapeAttribute(blockId)}"`,
    `data-action-id="${escapeAttribute(typeof element.action_id === 'string' ? element.action_id : '')}"`,
  ];
  if (isObject(element.confirm))
    attributes.push(`data-confirm="${escapeAttribute(JSON.stringify(element.confirm))}"`);
  return attributes.join(' ');
}

function optionsOf(element: Json): { groups: { label: string | null; options: Json[] }[] } {
  if (Array.isArray(element.option_groups)) {
    return {
      groups: element.option_groups.filter(isObject).map((group) => ({
        label: textObjectPlain(group.label),
        options: Array.isArray(group.options) ? group.options.filter(isObject) : [],
      })),
    };
  }
  return {
    groups: [
      { label: null, options: Array.isArray(element.options) ? element.options.filter(isObject) : [] },
    ],
  };
}

function optionValue(option: unknown): string | null {
  return isObject(option) && typeof option.value === 'string' ? option.value : null;
}

/**
 * `selected` is the page's current choice for this select (it outlives re-renders of the same
 * message); otherwise the element's `initial_option`, otherwise the placeholder.
 */
function renderSelect(element: Json, blockId: string, selected: string | undefined): string {
  const chosen = selected ?? optionValue(element.initial_option) ?? undefined;
  const { groups } = optionsOf(element);
  const optionHtml = (option: Json) => {
    const value = optionValue(option) ?? '';
    const isChosen = value === chosen ? ' selected' : '';
    return `<option value="${escapeAttribute(value)}"${isChosen}>${escapeAttribute(textObjectPlain(option.text))}</option>`;
  };
  const body = groups
    .map((group) =>
      group.label === null
        ? group.options.map(optionHtml).join('')
        : `<optgroup label="${escapeAttribute(group.label)}">${group.options.map(optionHtml).join('')}</optgroup>`,
    )
    .join('');
  const placeholder = textObjectPlain(element.placeholder) || 'Select an item';
  const placeholderOption =
    chosen === undefined
      ? `<option value="" disabled selected hidden>${escapeAttribute(placeholder)}</option>`
      : '';
  return `<select class="bk-select" ${dataAttributes(element, blockId)} aria-label="${escapeAttribute(placeholder)}">${placeholderOption}${body}</select>`;
}

function renderOverflow(element: Json, blockId: string): string {
  const { groups } = optionsOf(element);
  const options = groups
    .flatMap((group) => group.options)
    .map(
      (option) =>
        `<option value="${escapeAttribute(optionValue(option) ?? '')}">${escapeAttribute(textObjectPlain(option.text))}</option>`,
    )
    .join('');
  return `<select class="bk-select bk-overflow" ${dataAttributes(element, blockId)} aria-label="More actions"><option value="" disabled selected hidden>⋯</option>${options}</select>`;
}

function renderButton(element: Json, blockId: string, ctx: MrkdwnContext): string {
  const style =
    element.style === 'primary' || element.style === 'danger' ? ` bk-button-${element.style}` : '';
  const url =
    typeof element.url === 'string' && /^https?:/i.test(element.url)
      ? ` data-url="${escapeAttribute(element.url)}"`
      : '';
  return `<button type="button" class="bk-button${style}" ${dataAttributes(element, blockId)}${url}>${textObjectToHtml(element.text, ctx)}</button>`;
}

function renderImage(element: Json, className: string): string {
  const url =
    typeof element.image_url === 'string' && /^https?:/i.test(element.image_url) ? element.image_url : '';
  const alt = typeof element.alt_text === 'string' ? element.alt_text : '';
  return url ? `<img class="${className}" src="${escapeAttribute(url)}" alt="${escapeAttribute(alt)}">` : '';
}

export type Selections = Record<string, Record<string, string>>;

export function renderElement(
  element: unknown,
  blockId: string,
  ctx: MrkdwnContext,
  selections: Selections,
): string {
  if (!isObject(element)) return '';
  const actionId = typeof element.action_id === 'string' ? element.action_id : '';
  switch (element.type) {
    case 'button':
      return renderButton(element, blockId, ctx);
    case 'static_select':
      return renderSelect(element, blockId, selections[blockId]?.[actionId]);
    case 'overflow':
      return renderOverflow(element, blockId);
    case 'image':
      return renderImage(element, 'bk-accessory-image');
    default:
      return `<span class="bk-unsupported">[${escapeHtml(String(element.type))} is not supported here]</span>`;
  }
}

function renderRichText(block: Json, ctx: MrkdwnContext): string {
  const sections = Array.isArray(block.elements) ? block.elements.filter(isObject) : [];
  return sections
    .map((section) => {
      const parts = Array.isArray(section.elements) ? section.elements.filter(isObject) : [];
      const inner = parts
        .map((part) => {
          if (part.type === 'text' && typeof part.text === 'string') {
            const style = isObject(part.style) ? part.style : {};
            let html = escapeAttribute(part.text).replace(/\n/g, '<br>');
            if (style.code) html = `<code>${html}</code>`;
            if (style.bold) html = `<b>${html}</b>`;
            if (style.italic) html = `<i>${html}</i>`;
            if (style.strike) html = `<s>${html}</s>`;
            return html;
          }
          if (part.type === 'user' && typeof part.user_id === 'string')
            return mrkdwnToHtml(`<@${part.user_id}>`, ctx);
          if (part.type === 'link' && typeof part.url === 'string')
            return mrkdwnToHtml(`<${part.url}${typeof part.text === 'string' ? `|${part.text}` : ''}>`, ctx);
          if (part.type === 'emoji' && typeof part.name === 'string')
            return mrkdwnToHtml(`:${part.name}:`, ctx);
          return '';
        })
        .join('');
      if (section.type === 'rich_text_preformatted') return `<pre class="code-block">${inner}</pre>`;
      if (section.type === 'rich_text_quote') return `<blockquote>${inner}</blockquote>`;
      return `<div>${inner}</div>`;
    })
    .join('');
}

export function renderBlock(block: unknown, ctx: MrkdwnContext, selections: Selections): string {
  if (!isObject(block)) return '';
  const blockId = typeof block.block_id === 'string' ? block.block_id : '';
  switch (block.type) {
    case 'header':
      return `<div class="bk-header">${textObjectToHtml(block.text, ctx)}</div>`;
    case 'divider':
      return '<hr class="bk-divider">';
    case 'section': {
      const text =
        block.text !== undefined ? `<div class="bk-text">${textObjectToHtml(block.text, ctx)}</div>` : '';
      const fields = Array.isArray(block.fields)
        ? `<div class="bk-fields">${block.fields.map((field) => `<div class="bk-field">${textObjectToHtml(field, ctx)}</div>`).join('')}</div>`
        : '';
      const accessory =
        block.accessory !== undefined
          ? `<div class="bk-accessory">${renderElement(block.accessory, blockId, ctx, selections)}</div>`
          : '';
      return `<div class="bk-section"><div class="bk-section-body">${text}${fields}</div>${accessory}</div>`;
    }
    case 'context': {
      const elements = Array.isArray(block.elements) ? block.elements : [];
      const html = elements
        .map((element) =>
          isObject(element) && element.type === 'image'
            ? renderImage(element, 'bk-context-image')
            : `<span class="bk-context-item">${textObjectToHtml(element, ctx)}</span>`,
        )
        .join('');
      return `<div class="bk-context">${html}</div>`;
    }
    case 'actions': {
      const elements = Array.isArray(block.elements) ? block.elements : [];
      return `<div class="bk-actions">${elements.map((element) => renderElement(element, blockId, ctx, selections)).join('')}</div>`;
    }
    case 'image': {
      const title =
        block.title !== undefined
          ? `<div class="bk-image-title">${textObjectToHtml(block.title, ctx)}</div>`
          : '';
      return `<div class="bk-image">${title}${renderImage(block, 'bk-image-img')}</div>`;
    }
    case 'rich_text':
      return `<div class="bk-rich-text">${renderRichText(block, ctx)}</div>`;
    default:
      return `<div class="bk-unsupported">This ${escapeHtml(String(block.type))} block cannot be shown in the local workspace.</div>`;
  }
}

export function renderBlocks(blocks: unknown[], ctx: MrkdwnContext, selections: Selections = {}): string {
  return blocks.map((block) => renderBlock(block, ctx, selections)).join('');
}

/** A confirmation dialog object (`confirm` on a button or select), parsed from its data attribute. */
export interface ConfirmDialog {
  titleHtml: string;
  textHtml: string;
  confirmLabel: string;
  denyLabel: string;
  style: 'primary' | 'danger' | null;
}

export function parseConfirm(json: string, ctx: MrkdwnContext): ConfirmDialog | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (!isObject(value)) return null;
  return {
    titleHtml: textObjectToHtml(value.title, ctx) || 'Are you sure?',
    textHtml: textObjectToHtml(value.text, ctx),
    confirmLabel: textObjectPlain(value.confirm) || 'Yes',
    denyLabel: textObjectPlain(value.deny) || 'Cancel',
    style: value.style === 'primary' || value.style === 'danger' ? value.style : null,
  };
}
