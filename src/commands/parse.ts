/**
 * The `/evacuate` command line, parsed without side effects. Slack hands us one string (the text
 * after the command); this turns it into a typed request or a specific error the operator can fix,
 * never a guess.
 */
import { distance } from 'fastest-levenshtein';
import type { RequestedMode } from '../engine/types.js';

export const USAGE =
  '/evacuate HOST [--live | --cold | --rebuild] [--to HOST] [--parallel N] [--only a,b | --except a,b] ' +
  '[--keep-enabled] [--fenced] [--reason "…"] [--dry-run]  ·  /evacuate status [HOST]  ·  /evacuate help';

/** Bounds the parser accepts; the engine applies its own (lower) global cap on top. */
export const MAX_PARALLEL = 100;
/** Nova keeps `disabled_reason` to 255 characters and the engine prefixes the run id and user. */
export const MAX_REASON_LENGTH = 150;
export const MAX_HOST_LENGTH = 255;

export interface EvacuateOptions {
  host: string;
  mode: RequestedMode;
  targetHost?: string;
  concurrency?: number;
  include?: string[];
  exclude?: string[];
  reason?: string;
  keepServiceEnabled: boolean;
  hostFenced: boolean;
  /** Preview only: no Confirm button, nothing stored beyond the preview. */
  dryRun: boolean;
}

export type EvacuateCommand =
  { kind: 'help' } | { kind: 'status'; host?: string } | ({ kind: 'evacuate' } & EvacuateOptions);

export type CommandErrorCode =
  | 'missing_host'
  | 'unknown_flag'
  | 'missing_value'
  | 'bad_number'
  | 'conflicting_modes'
  | 'conflicting_flags'
  | 'duplicate_flag'
  | 'extra_argument'
  | 'unterminated_quote'
  | 'bad_host'
  | 'bad_value';

export class CommandParseError extends Error {
  readonly usage = USAGE;
  constructor(
    readonly code: CommandErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CommandParseError';
  }
}

export type ParseResult = { ok: true; command: EvacuateCommand } | { ok: false; error: CommandParseError };

/** A token, whether it began with a quote (a quoted `--x` is a value, not a flag) and whether any part was quoted. */
interface Token {
  text: string;
  quoted: boolean;
  hasQuotes: boolean;
}

/**
 * Quote pairs as typed, or as Slack clients rewrite them ("smart quotes" on macOS/iOS, German
 * „…“, guillemets). A quote only opens at the start of a token, so apostrophes inside words
 * (`host's`) stay literal.
 */
const CLOSING_QUOTES: Record<string, string> = {
  '"': '"',
  "'": "'",
  '\u201C': '\u201D\u201C', // “ … ” (or “ … “ from some keyboards)
  '\u201D': '\u201D', // ” … ” (Swedish/Finnish)
  '\u201E': '\u201C\u201D', // „ … “
  '\u2018': '\u2019\u2018', // ‘ … ’
  '\u201A': '\u2018\u2019', // ‚ … ‘
  '\u00AB': '\u00BB', // « … »
  '\u00BB': '\u00AB', // » … «
};

const WHITESPACE = /\s/;

/** Slack escapes these three in slash-command text; everything else arrives verbatim. */
function decodeSlackEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < input.length) {
    while (index < input.length && WHITESPACE.test(input[index] ?? '')) index += 1;
    if (index >= input.length) break;
    let text = '';
    let quoted = false;
    let hasQuotes = false;
    let atTokenStart = true;
    while (index < input.length && !WHITESPACE.test(input[index] ?? '')) {
      const char = input[index] ?? '';
      const closers = CLOSING_QUOTES[char];
      // `--reason="x y"` quotes after `=` too.
      if (closers !== undefined && (atTokenStart || text.endsWith('='))) {
        const start = index + 1;
        let end = start;
        while (end < input.length && !closers.includes(input[end] ?? '')) end += 1;
        if (end >= input.length) {
          throw new CommandParseError(
            'unterminated_quote',
            `The quote opened with ${char} is never closed: ${input.slice(index, index + 40)}`,
          );
        }
        text += input.slice(start, end);
        quoted ||= atTokenStart;
        hasQuotes = true;
        index = end + 1;
      } else {
        text += char;
        index += 1;
      }
      atTokenStart = false;
    }
    tokens.push({ text, quoted, hasQuotes });
  }
  return tokens;
}

/** iOS and macOS turn `--` into an em or en dash; operators should not have to fight that. */
function normaliseFlag(text: string): string {
  return text.replace(/^[\u2014\u2013\u2012\u2015]-?/, '--');
}

const HOST_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function validateHost(host: string, what: string): string {
  if (host.length > MAX_HOST_LENGTH) {
    throw new CommandParseError('bad_host', `${what} is longer than ${MAX_HOST_LENGTH} characters.`);
  }
  if (!HOST_PATTERN.test(host)) {
    throw new CommandParseError(
      'bad_host',
      `${what} ${JSON.stringify(host)} is not a compute host name (letters, digits, ".", "_" and "-").`,
    );
  }
  return host;
}

function parsePositiveInteger(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw)) {
    throw new CommandParseError('bad_number', `${flag} expects a whole number, got ${JSON.stringify(raw)}.`);
  }
  const value = Number(raw);
  if (value < 1 || value > MAX_PARALLEL) {
    throw new CommandParseError('bad_number', `${flag} must be between 1 and ${MAX_PARALLEL}, got ${raw}.`);
  }
  return value;
}

function parseList(flag: string, raw: string): string[] {
  const items = raw.split(',').map((item) => item.trim());
  if (items.some((item) => item.length === 0)) {
    throw new CommandParseError(
      'bad_value',
      `${flag} expects a comma-separated list of server names or ids without empty entries, got ${JSON.stringify(raw)}.`,
    );
  }
  return [...new Set(items)];
}

const MODE_FLAGS: Record<string, Exclude<RequestedMode, 'auto'>> = {
  '--live': 'live',
  '--cold': 'cold',
  '--rebuild': 'evacuate',
  '--evacuate': 'evacuate',
};
const BOOLEAN_FLAGS = new Set(['--dry-run', '--keep-enabled', '--fenced']);
const VALUE_FLAGS = new Set(['--to', '--parallel', '--reason', '--only', '--except']);

const KNOWN_FLAGS = [...Object.keys(MODE_FLAGS), ...BOOLEAN_FLAGS, ...VALUE_FLAGS];

function suggestFlag(flag: string): string {
  const stem = flag.replace(/^-+/, '').toLowerCase();
  const close = KNOWN_FLAGS.filter((known) => {
    const knownStem = known.slice(2);
    return knownStem.startsWith(stem) || stem.startsWith(knownStem) || distance(stem, knownStem) <= 2;
  });
  return close.length > 0 ? ` Did you mean ${close.join(' or ')}?` : '';
}

function parseEvacuate(tokens: Token[]): EvacuateCommand {
  let host: string | undefined;
  let mode: RequestedMode = 'auto';
  let modeFlag: string | undefined;
  const values = new Map<string, string>();
  const booleans = new Set<string>();
  let reasonUnquoted = false;

  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index] as Token;
    const text = token.quoted ? token.text : normaliseFlag(token.text);
    if (token.quoted || !text.startsWith('-')) {
      if (host === undefined) {
        host = validateHost(text, 'Host');
        continue;
      }
      const hint = reasonUnquoted
        ? ' Put the --reason text in quotes: --reason "host is dead".'
        : ' Only one host per command.';
      throw new CommandParseError('extra_argument', `Unexpected argument ${JSON.stringify(text)}.${hint}`);
    }

    const equals = text.indexOf('=');
    const flag = (equals > 0 ? text.slice(0, equals) : text).toLowerCase();
    const inlineValue = equals > 0 ? text.slice(equals + 1) : undefined;

    const flagMode = MODE_FLAGS[flag];
    if (flagMode !== undefined || BOOLEAN_FLAGS.has(flag)) {
      if (inlineValue !== undefined) {
        throw new CommandParseError('bad_value', `${flag} takes no value.`);
      }
      if (flagMode !== undefined) {
        if (mode !== 'auto' && mode !== flagMode) {
          throw new CommandParseError(
            'conflicting_modes',
            `${modeFlag} and ${flag} cannot be combined: pick one of --live, --cold or --rebuild (or none for auto).`,
          );
        }
        mode = flagMode;
        modeFlag = flag;
      } else {
        booleans.add(flag);
      }
      continue;
    }

    if (!VALUE_FLAGS.has(flag)) {
      throw new CommandParseError('unknown_flag', `Unknown option ${flag}.${suggestFlag(flag)}`);
    }
    let value = inlineValue;
    let valueQuoted = token.hasQuotes;
    if (value === undefined) {
      const next = tokens[index + 1];
      if (next === undefined || (!next.quoted && normaliseFlag(next.text).startsWith('--'))) {
        throw new CommandParseError('missing_value', `${flag} needs a value.`);
      }
      value = next.text;
      valueQuoted = next.hasQuotes;
      index += 1;
    }
    if (values.has(flag)) {
      throw new CommandParseError('duplicate_flag', `${flag} is given more than once.`);
    }
    if (value.trim().length === 0) {
      throw new CommandParseError('missing_value', `${flag} needs a value.`);
    }
    values.set(flag, value);
    if (flag === '--reason' && !valueQuoted) reasonUnquoted = true;
  }

  if (host === undefined) {
    throw new CommandParseError(
      'missing_host',
      'Which host? Give the compute host name, e.g. /evacuate host-12.',
    );
  }
  if (values.has('--only') && values.has('--except')) {
    throw new CommandParseError('conflicting_flags', '--only and --except cannot be combined.');
  }

  const command: EvacuateCommand = {
    kind: 'evacuate',
    host,
    mode,
    keepServiceEnabled: booleans.has('--keep-enabled'),
    hostFenced: booleans.has('--fenced'),
    dryRun: booleans.has('--dry-run'),
  };
  const target = values.get('--to');
  if (target !== undefined) {
    command.targetHost = validateHost(target, 'Target host (--to)');
    if (command.targetHost === host) {
      throw new CommandParseError('conflicting_flags', `--to ${target} is the host being evacuated.`);
    }
  }
  const parallel = values.get('--parallel');
  if (parallel !== undefined) command.concurrency = parsePositiveInteger('--parallel', parallel);
  const only = values.get('--only');
  if (only !== undefined) command.include = parseList('--only', only);
  const except = values.get('--except');
  if (except !== undefined) command.exclude = parseList('--except', except);
  const reason = values.get('--reason');
  if (reason !== undefined) {
    const trimmed = reason.trim();
    if (trimmed.length > MAX_REASON_LENGTH) {
      throw new CommandParseError(
        'bad_value',
        `--reason is ${trimmed.length} characters; keep it under ${MAX_REASON_LENGTH} (Nova stores it as the service's disabled reason).`,
      );
    }
    command.reason = trimmed;
  }
  if (command.hostFenced && mode !== 'auto' && mode !== 'evacuate') {
    throw new CommandParseError(
      'conflicting_flags',
      `--fenced only applies to evacuation (--rebuild or auto); ${modeFlag} moves servers off a running host.`,
    );
  }
  return command;
}

/** Parses the text after `/evacuate`. Never throws: errors come back as `{ ok: false }`. */
export function parseEvacuateCommand(rawText: string): ParseResult {
  try {
    const tokens = tokenize(decodeSlackEntities(rawText ?? ''));
    const first = tokens[0];
    if (first === undefined) {
      throw new CommandParseError(
        'missing_host',
        'Which host? Give the compute host name, e.g. /evacuate host-12.',
      );
    }
    const keyword = first.quoted ? '' : first.text.toLowerCase();
    if (keyword === 'help' || keyword === '--help' || keyword === '-h') {
      const extra = tokens[1];
      if (extra !== undefined) {
        throw new CommandParseError(
          'extra_argument',
          `Unexpected argument ${JSON.stringify(extra.text)} after help.`,
        );
      }
      return { ok: true, command: { kind: 'help' } };
    }
    if (keyword === 'status') {
      const [, hostToken, extra] = tokens;
      if (extra !== undefined) {
        throw new CommandParseError(
          'extra_argument',
          `Unexpected argument ${JSON.stringify(extra.text)}: /evacuate status takes at most one host.`,
        );
      }
      if (hostToken === undefined) return { ok: true, command: { kind: 'status' } };
      if (!hostToken.quoted && normaliseFlag(hostToken.text).startsWith('-')) {
        throw new CommandParseError(
          'unknown_flag',
          `/evacuate status takes no options, got ${hostToken.text}.`,
        );
      }
      return { ok: true, command: { kind: 'status', host: validateHost(hostToken.text, 'Host') } };
    }
    return { ok: true, command: parseEvacuate(tokens) };
  } catch (error) {
    if (error instanceof CommandParseError) return { ok: false, error };
    throw error;
  }
}
