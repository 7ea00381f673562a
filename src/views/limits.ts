/**
 * Slack's Block Kit limits, and a validator that lists every way a message breaks them.
 *
 * Slack rejects a whole message (`invalid_blocks`, `msg_too_long`) for one over-long field, and
 * an edit that fails leaves the team looking at a stale status message. The builders stay inside
 * these limits by construction; `checkMessageLimits` is how tests (ours and the Slack app's)
 * prove it. The validator walks `unknown` input so it can check any message, not just ours.
 */

export const SlackLimits = {
  /** Blocks in one message. */
  blocksPerMessage: 50,
  /** mrkdwn/plain text of a section. */
  sectionText: 3000,
  /** Fields in a section. */
  sectionFields: 10,
  /** Characters in one section field. */
  sectionFieldText: 2000,
  /** plain_text of a header block. */
  headerText: 150,
  /** Elements of a context block. */
  contextElements: 10,
  /** Text of one context element (Slack documents no smaller cap; a section's is the safe bound). */
  contextElementText: 3000,
  /** Elements of an actions block. */
  actionsElements: 25,
  /** Button label. */
  buttonText: 75,
  /** Button value. */
  buttonValue: 2000,
  /** Button url. */
  buttonUrl: 3000,
  /** action_id of any interactive element. */
  actionId: 255,
  /** block_id of any block. */
  blockId: 255,
  /** Options in a static select (and option groups). */
  selectOptions: 100,
  /** Text of an option. */
  optionText: 75,
  /** Value of an option. */
  optionValue: 150,
  /** Description of an option. */
  optionDescription: 75,
  /** Placeholder of a select. */
  placeholderText: 150,
  /** Confirmation dialog title, text and its two button labels. */
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /**
   * Text across a whole message (fallback + every text object). Slack's own bound is fuzzy
   * (`msg_too_long`), about 12,000 characters in practice; the builders aim at `messageTextBudget`.
   */
  messageText: 12000,
  /** What the builders plan for: a margin under `messageText`. */
  messageTextBudget: 10000,
  /** The notification fallback `text`: shown in push notifications, so kept short. */
  fallbackText: 3000,
} as const;

export interface LimitViolation {
  /** Where, e.g. `blocks[3].elements[1].text.text`. */
  path: string;
  /** What is wrong, with the actual and allowed sizes. */
  message: string;
}

/** The block types Slack accepts in messages that this validator knows how to check. */
const KNOWN_BLOCK_TYPES = new Set([
  'section',
  'header',
  'context',
  'actions',
  'divider',
  'image',
  'rich_text',
  'input',
  'markdown',
]);

const BUTTON_STYLES = new Set(['primary', 'danger']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Checker {
  readonly violations: LimitViolation[] = [];
  readonly actionIds = new Map<string, string>();
  readonly blockIds = new Map<string, string>();
  textChars = 0;

  fail(path: string, message: string): void {
    this.violations.push({ path, message });
  }

  maxLength(path: string, value: unknown, max: number, what: string): void {
    if (typeof value === 'string' && value.length > max) {
      this.fail(path, `${what} is ${value.length} characters (max ${max})`);
    }
  }

  /** A text object: { type: 'plain_text' | 'mrkdwn', text }. Counts toward the message total. */
  textObject(path: string, value: unknown, max: number, what: string, plainOnly = false): void {
    if (!isRecord(value)) {
      this.fail(path, `${what} must be a text object`);
      return;
    }
    if (value.type !== 'plain_text' && value.type !== 'mrkdwn') {
      this.fail(`${path}.type`, `${what} has text type ${JSON.stringify(value.type)}`);
    } else if (plainOnly && value.type !== 'plain_text') {
      this.fail(`${path}.type`, `${what} must be plain_text`);
    }
    if (typeof value.text !== 'string' || value.text.length === 0) {
      this.fail(`${path}.text`, `${what} is empty (Slack rejects empty text)`);
      return;
    }
    this.textChars += value.text.length;
    this.maxLength(`${path}.text`, value.text, max, what);
  }

  id(kind: 'action_id' | 'block_id', path: string, value: unknown): void {
    if (value === undefined) return;
    if (typeof value !== 'string' || value.length === 0) {
      this.fail(path, `${kind} must be a non-empty string`);
      return;
    }
    this.maxLength(path, value, kind === 'action_id' ? SlackLimits.actionId : SlackLimits.blockId, kind);
    const seen = kind === 'action_id' ? this.actionIds : this.blockIds;
    const earlier = seen.get(value);
    if (earlier !== undefined) {
      this.fail(
        path,
        `${kind} ${JSON.stringify(value)} is also used at ${earlier} (must be unique in a message)`,
      );
    } else {
      seen.set(value, path);
    }
  }

  confirm(path: string, value: unknown): void {
    if (value === undefined) return;
    if (!isRecord(value)) {
      this.fail(path, 'confirm must be an object');
      return;
    }
    this.textObject(`${path}.title`, value.title, SlackLimits.confirmTitle, 'confirm title', true);
    this.textObject(`${path}.text`, value.text, SlackLimits.confirmText, 'confirm text');
    this.textObject(`${path}.confirm`, value.confirm, SlackLimits.confirmButton, 'confirm button', true);
    this.textObject(`${path}.deny`, value.deny, SlackLimits.confirmButton, 'deny button', true);
  }

  option(path: string, value: unknown): string | undefined {
    if (!isRecord(value)) {
      this.fail(path, 'option must be an object');
      return undefined;
    }
    this.textObject(`${path}.text`, value.text, SlackLimits.optionText, 'option text');
    if (typeof value.value !== 'string' || value.value.length === 0) {
      this.fail(`${path}.value`, 'option value must be a non-empty string');
    } else {
      this.maxLength(`${path}.value`, value.value, SlackLimits.optionValue, 'option value');
    }
    if (value.description !== undefined) {
      this.textObject(
        `${path}.description`,
        value.description,
        SlackLimits.optionDescription,
        'option description',
      );
    }
    return typeof value.value === 'string' ? value.value : undefined;
  }

  element(path: string, value: unknown): void {
    if (!isRecord(value)) {
      this.fail(path, 'element must be an object');
      return;
    }
    this.id('action_id', `${path}.action_id`, value.action_id);
    this.confirm(`${path}.confirm`, value.confirm);
    switch (value.type) {
      case 'button':
        this.textObject(`${path}.text`, value.text, SlackLimits.buttonText, 'button text', true);
        this.maxLength(`${path}.value`, value.value, SlackLimits.buttonValue, 'button value');
        this.maxLength(`${path}.url`, value.url, SlackLimits.buttonUrl, 'button url');
        if (value.style !== undefined && !BUTTON_STYLES.has(String(value.style))) {
          this.fail(`${path}.style`, `button style ${JSON.stringify(value.style)} is not primary or danger`);
        }
        break;
      case 'static_select':
      case 'multi_static_select':
        this.staticSelect(path, value);
        break;
      case 'image':
        if (typeof value.alt_text !== 'string' || value.alt_text.length === 0) {
          this.fail(`${path}.alt_text`, 'image element needs alt_text');
        }
        break;
      default:
        if (value.placeholder !== undefined) {
          this.textObject(
            `${path}.placeholder`,
            value.placeholder,
            SlackLimits.placeholderText,
            'placeholder',
            true,
          );
        }
    }
  }

  staticSelect(path: string, value: Record<string, unknown>): void {
    if (value.placeholder !== undefined) {
      this.textObject(
        `${path}.placeholder`,
        value.placeholder,
        SlackLimits.placeholderText,
        'placeholder',
        true,
      );
    }
    const values: string[] = [];
    if (Array.isArray(value.options)) {
      if (value.options.length === 0) this.fail(`${path}.options`, 'select has no options');
      if (value.options.length > SlackLimits.selectOptions) {
        this.fail(
          `${path}.options`,
          `select has ${value.options.length} options (max ${SlackLimits.selectOptions})`,
        );
      }
      value.options.forEach((option, i) => {
        const optionValue = this.option(`${path}.options[${i}]`, option);
        if (optionValue !== undefined) values.push(optionValue);
      });
    } else if (Array.isArray(value.option_groups)) {
      if (value.option_groups.length > SlackLimits.selectOptions) {
        this.fail(`${path}.option_groups`, `select has ${value.option_groups.length} option groups`);
      }
      value.option_groups.forEach((group, g) => {
        const options = isRecord(group) && Array.isArray(group.options) ? group.options : [];
        options.forEach((option, i) => {
          const optionValue = this.option(`${path}.option_groups[${g}].options[${i}]`, option);
          if (optionValue !== undefined) values.push(optionValue);
        });
      });
    } else {
      this.fail(`${path}.options`, 'static select needs options or option_groups');
    }
    if (new Set(values).size !== values.length)
      this.fail(`${path}.options`, 'select has duplicate option values');
    const initial = value.initial_option;
    if (initial !== undefined) {
      const initialValue = isRecord(initial) ? initial.value : undefined;
      if (typeof initialValue !== 'string' || !values.includes(initialValue)) {
        this.fail(`${path}.initial_option`, 'initial_option is not one of the options');
      }
    }
  }

  block(path: string, block: unknown): void {
    if (!isRecord(block)) {
      this.fail(path, 'block must be an object');
      return;
    }
    this.id('block_id', `${path}.block_id`, block.block_id);
    const type = block.type;
    if (typeof type !== 'string' || !KNOWN_BLOCK_TYPES.has(type)) {
      this.fail(`${path}.type`, `unsupported block type ${JSON.stringify(type)}`);
      return;
    }
    switch (type) {
      case 'section':
        this.section(path, block);
        break;
      case 'header':
        this.textObject(`${path}.text`, block.text, SlackLimits.headerText, 'header text', true);
        break;
      case 'context': {
        const elements = Array.isArray(block.elements) ? block.elements : [];
        if (elements.length === 0) this.fail(`${path}.elements`, 'context block has no elements');
        if (elements.length > SlackLimits.contextElements) {
          this.fail(
            `${path}.elements`,
            `context has ${elements.length} elements (max ${SlackLimits.contextElements})`,
          );
        }
        elements.forEach((element, i) => {
          if (isRecord(element) && element.type === 'image') this.element(`${path}.elements[${i}]`, element);
          else
            this.textObject(
              `${path}.elements[${i}]`,
              element,
              SlackLimits.contextElementText,
              'context text',
            );
        });
        break;
      }
      case 'actions': {
        const elements = Array.isArray(block.elements) ? block.elements : [];
        if (elements.length === 0) this.fail(`${path}.elements`, 'actions block has no elements');
        if (elements.length > SlackLimits.actionsElements) {
          this.fail(
            `${path}.elements`,
            `actions has ${elements.length} elements (max ${SlackLimits.actionsElements})`,
          );
        }
        elements.forEach((element, i) => this.element(`${path}.elements[${i}]`, element));
        break;
      }
      default:
        break;
    }
  }

  section(path: string, block: Record<string, unknown>): void {
    const hasText = block.text !== undefined;
    const fields = block.fields;
    if (!hasText && !Array.isArray(fields)) this.fail(path, 'section needs text or fields');
    if (hasText) this.textObject(`${path}.text`, block.text, SlackLimits.sectionText, 'section text');
    if (fields !== undefined) {
      if (!Array.isArray(fields) || fields.length === 0) {
        this.fail(`${path}.fields`, 'section fields must be a non-empty array');
      } else {
        if (fields.length > SlackLimits.sectionFields) {
          this.fail(
            `${path}.fields`,
            `section has ${fields.length} fields (max ${SlackLimits.sectionFields})`,
          );
        }
        fields.forEach((field, i) =>
          this.textObject(`${path}.fields[${i}]`, field, SlackLimits.sectionFieldText, 'section field'),
        );
      }
    }
    if (block.accessory !== undefined) this.element(`${path}.accessory`, block.accessory);
  }
}

/**
 * Every limit the message breaks; an empty list means Slack will accept it. Accepts any value so
 * a test can check what a builder (or a hand-written payload) really produced.
 */
export function checkMessageLimits(message: unknown): LimitViolation[] {
  const checker = new Checker();
  if (!isRecord(message)) {
    checker.fail('', 'message must be an object');
    return checker.violations;
  }
  if (typeof message.text !== 'string' || message.text.trim().length === 0) {
    checker.fail('text', 'fallback text is missing (notifications and screen readers use it)');
  } else {
    checker.textChars += message.text.length;
    checker.maxLength('text', message.text, SlackLimits.fallbackText, 'fallback text');
  }
  const blocks = message.blocks;
  if (blocks !== undefined) {
    if (!Array.isArray(blocks)) {
      checker.fail('blocks', 'blocks must be an array');
    } else {
      if (blocks.length > SlackLimits.blocksPerMessage) {
        checker.fail('blocks', `message has ${blocks.length} blocks (max ${SlackLimits.blocksPerMessage})`);
      }
      blocks.forEach((block, i) => checker.block(`blocks[${i}]`, block));
    }
  }
  if (checker.textChars > SlackLimits.messageText) {
    checker.fail(
      '',
      `message has ${checker.textChars} characters of text (max about ${SlackLimits.messageText})`,
    );
  }
  return checker.violations;
}

/** Characters of text a message carries (fallback + every text object), as `checkMessageLimits` counts them. */
export function messageTextLength(message: unknown): number {
  const checker = new Checker();
  if (isRecord(message)) {
    if (typeof message.text === 'string') checker.textChars += message.text.length;
    if (Array.isArray(message.blocks))
      message.blocks.forEach((block, i) => checker.block(`blocks[${i}]`, block));
  }
  return checker.textChars;
}
