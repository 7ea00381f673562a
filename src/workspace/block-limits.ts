/**
 * The Block Kit limits Slack enforces when a message is posted (`invalid_blocks`). The local
 * Web API refuses what Slack would refuse, so a message that works here works in Slack.
 * Messages mirror Slack's: "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]".
 */
import type { BlockJson } from './model.js';

const MAX_BLOCKS = 50;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function textOf(value: unknown): string | null {
  return isObject(value) && typeof value.text === 'string' ? value.text : null;
}

export function validateBlocks(blocks: unknown): string[] {
  const errors: string[] = [];
  const fail = (message: string, pointer: string) =>
    errors.push(`[ERROR] ${message} [json-pointer:${pointer}]`);
  if (!Array.isArray(blocks)) {
    fail('must be an array', '/blocks');
    return errors;
  }
  if (blocks.length > MAX_BLOCKS) fail(`must contain no more than ${MAX_BLOCKS} items`, '/blocks');
  const checkText = (value: unknown, max: number, pointer: string, required = true) => {
    if (value === undefined && !required) return;
    const text = textOf(value);
    if (text === null) return fail('must provide an object with a text string', pointer);
    if (isObject(value) && value.type !== 'plain_text' && value.type !== 'mrkdwn')
      fail('must be either "plain_text" or "mrkdwn"', `${pointer}/type`);
    if (text.length > max) fail(`must be less than ${max + 1} characters`, `${pointer}/text`);
  };
  const checkElement = (element: unknown, pointer: string) => {
    if (!isObject(element) || typeof element.type !== 'string')
      return fail('must provide an element', pointer);
    if (typeof element.action_id === 'string' && element.action_id.length > 255)
      fail('must be less than 256 characters', `${pointer}/action_id`);
    if (element.type === 'button') {
      checkText(element.text, 75, `${pointer}/text`);
      if (typeof element.value === 'string' && element.value.length > 2000)
        fail('must be less than 2001 characters', `${pointer}/value`);
      if (element.style !== undefined && element.style !== 'primary' && element.style !== 'danger')
        fail('must be either "primary" or "danger"', `${pointer}/style`);
    }
    if (element.type === 'static_select' || element.type === 'overflow') {
      const options = element.options;
      const groups = element.option_groups;
      if (!Array.isArray(options) && !Array.isArray(groups))
        fail('must provide options or option_groups', `${pointer}/options`);
      const max = element.type === 'overflow' ? 5 : 100;
      if (Array.isArray(options) && options.length > max)
        fail(`must contain no more than ${max} items`, `${pointer}/options`);
      const all = Array.isArray(options)
        ? options
        : Array.isArray(groups)
          ? groups.flatMap((g) => (isObject(g) && Array.isArray(g.options) ? g.options : []))
          : [];
      all.forEach((option, i) => {
        checkText(isObject(option) ? option.text : undefined, 75, `${pointer}/options/${i}/text`);
        if (isObject(option) && typeof option.value === 'string' && option.value.length > 150)
          fail('must be less than 151 characters', `${pointer}/options/${i}/value`);
      });
    }
    if (isObject(element.confirm)) {
      const confirm = element.confirm;
      checkText(confirm.title, 100, `${pointer}/confirm/title`);
      checkText(confirm.text, 300, `${pointer}/confirm/text`);
      checkText(confirm.confirm, 30, `${pointer}/confirm/confirm`);
      checkText(confirm.deny, 30, `${pointer}/confirm/deny`);
    }
  };

  blocks.forEach((block: unknown, index) => {
    const at = `/blocks/${index}`;
    if (!isObject(block) || typeof block.type !== 'string') return fail('must provide a block type', at);
    const b = block as BlockJson;
    if (typeof b.block_id === 'string' && b.block_id.length > 255)
      fail('must be less than 256 characters', `${at}/block_id`);
    switch (b.type) {
      case 'section': {
        if (b.text === undefined && b.fields === undefined) fail('must provide text or fields', at);
        checkText(b.text, 3000, `${at}/text`, false);
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields)) fail('must be an array', `${at}/fields`);
          else {
            if (b.fields.length > 10) fail('must contain no more than 10 items', `${at}/fields`);
            b.fields.forEach((field, i) => checkText(field, 2000, `${at}/fields/${i}`));
          }
        }
        if (b.accessory !== undefined) checkElement(b.accessory, `${at}/accessory`);
        break;
      }
      case 'header':
        checkText(b.text, 150, `${at}/text`);
        if (isObject(b.text) && b.text.type !== 'plain_text') fail('must be "plain_text"', `${at}/text/type`);
        break;
      case 'context':
        if (!Array.isArray(b.elements) || b.elements.length === 0)
          fail('must provide elements', `${at}/elements`);
        else if (b.elements.length > 10) fail('must contain no more than 10 items', `${at}/elements`);
        break;
      case 'actions':
        if (!Array.isArray(b.elements) || b.elements.length === 0)
          fail('must provide elements', `${at}/elements`);
        else {
          if (b.elements.length > 25) fail('must contain no more than 25 items', `${at}/elements`);
          b.elements.forEach((element, i) => checkElement(element, `${at}/elements/${i}`));
        }
        break;
      case 'divider':
      case 'image':
      case 'rich_text':
      case 'input':
      case 'file':
      case 'video':
        break;
      default:
        fail(`unsupported block type "${b.type}"`, `${at}/type`);
    }
  });
  return errors;
}
