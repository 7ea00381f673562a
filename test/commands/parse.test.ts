import { describe, expect, it } from 'vitest';
import {
  MAX_PARALLEL,
  MAX_REASON_LENGTH,
  USAGE,
  parseEvacuateCommand,
  tokenize,
  type CommandErrorCode,
  type EvacuateCommand,
} from '../../src/commands/parse.js';

function parsed(text: string): EvacuateCommand {
  const result = parseEvacuateCommand(text);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(text)} to parse, got: ${result.error.message}`);
  return result.command;
}

function failure(text: string): { code: CommandErrorCode; message: string; usage: string } {
  const result = parseEvacuateCommand(text);
  if (result.ok)
    throw new Error(`expected ${JSON.stringify(text)} to fail, got ${JSON.stringify(result.command)}`);
  return { code: result.error.code, message: result.error.message, usage: result.error.usage };
}

describe('parseEvacuateCommand: requests', () => {
  it('parses a bare host with safe defaults', () => {
    expect(parsed('host-12')).toEqual({
      kind: 'evacuate',
      host: 'host-12',
      mode: 'auto',
      keepServiceEnabled: false,
      hostFenced: false,
      dryRun: false,
    });
  });

  it('parses every flag together', () => {
    expect(
      parsed(
        'host-12 --live --to host-3 --parallel 4 --dry-run --keep-enabled --reason "kernel upgrade" --only vm-a,vm-b',
      ),
    ).toEqual({
      kind: 'evacuate',
      host: 'host-12',
      mode: 'live',
      targetHost: 'host-3',
      concurrency: 4,
      dryRun: true,
      keepServiceEnabled: true,
      hostFenced: false,
      reason: 'kernel upgrade',
      include: ['vm-a', 'vm-b'],
    });
  });

  it.each([
    ['--live', 'live'],
    ['--cold', 'cold'],
    ['--rebuild', 'evacuate'],
    ['--evacuate', 'evacuate'],
  ] as const)('maps %s to mode %s', (flag, mode) => {
    expect(parsed(`host-1 ${flag}`)).toMatchObject({ mode });
  });

  it('accepts flags before the host and in any case', () => {
    expect(parsed('--COLD --parallel 2 host-1')).toMatchObject({
      host: 'host-1',
      mode: 'cold',
      concurrency: 2,
    });
  });

  it('accepts --flag=value', () => {
    expect(parsed('host-1 --parallel=8 --to=host-2 --reason="disk failing"')).toMatchObject({
      concurrency: 8,
      targetHost: 'host-2',
      reason: 'disk failing',
    });
  });

  it('repeating the same mode is harmless', () => {
    expect(parsed('host-1 --live --live')).toMatchObject({ mode: 'live' });
  });

  it('accepts --fenced with --rebuild and with auto', () => {
    expect(parsed('host-1 --rebuild --fenced')).toMatchObject({ mode: 'evacuate', hostFenced: true });
    expect(parsed('host-1 --fenced')).toMatchObject({ mode: 'auto', hostFenced: true });
  });

  it('parses --except lists, trimming and de-duplicating', () => {
    expect(parsed('host-1 --except "vm-a, vm-b,vm-a"')).toMatchObject({ exclude: ['vm-a', 'vm-b'] });
  });

  describe('quotes and what Slack clients do to text', () => {
    it.each([
      ['straight double quotes', 'host-1 --reason "PSU failed"'],
      ['straight single quotes', "host-1 --reason 'PSU failed'"],
      ['smart double quotes', 'host-1 --reason \u201CPSU failed\u201D'],
      ['smart single quotes', 'host-1 --reason \u2018PSU failed\u2019'],
      ['German quotes', 'host-1 --reason \u201EPSU failed\u201C'],
      ['guillemets', 'host-1 --reason \u00ABPSU failed\u00BB'],
    ])('%s', (_name, text) => {
      expect(parsed(text)).toMatchObject({ reason: 'PSU failed' });
    });

    it('keeps apostrophes inside words', () => {
      expect(parsed('host-1 --reason "the host\u2019s PSU" --only it\'s-vm')).toMatchObject({
        reason: 'the host\u2019s PSU',
        include: ["it's-vm"],
      });
    });

    it('turns an em dash or en dash back into --', () => {
      expect(parsed('host-1 \u2014live \u2013parallel 3 \u2014dry-run')).toMatchObject({
        mode: 'live',
        concurrency: 3,
        dryRun: true,
      });
    });

    it('decodes the entities Slack escapes', () => {
      expect(parsed('host-1 --reason "R&amp;D &lt;urgent&gt;"')).toMatchObject({ reason: 'R&D <urgent>' });
    });

    it('treats a quoted dash-word as a value, not a flag', () => {
      expect(parsed('host-1 --reason "--not-a-flag"')).toMatchObject({ reason: '--not-a-flag' });
    });

    it('ignores extra whitespace, tabs and newlines', () => {
      expect(parsed('  host-1\t--live \n --parallel\t2  ')).toMatchObject({ host: 'host-1', concurrency: 2 });
    });
  });
});

describe('parseEvacuateCommand: keywords', () => {
  it('help', () => {
    expect(parsed('help')).toEqual({ kind: 'help' });
    expect(parsed('HELP')).toEqual({ kind: 'help' });
    expect(parsed('--help')).toEqual({ kind: 'help' });
  });

  it('status, optionally for one host', () => {
    expect(parsed('status')).toEqual({ kind: 'status' });
    expect(parsed('status host-3')).toEqual({ kind: 'status', host: 'host-3' });
  });

  it('a quoted "status" is a host name', () => {
    expect(parsed('"status"')).toMatchObject({ kind: 'evacuate', host: 'status' });
  });
});

describe('parseEvacuateCommand: errors are specific', () => {
  it.each<[string, string, CommandErrorCode, RegExp]>([
    ['empty text', '', 'missing_host', /Which host\?/],
    ['only whitespace', '   ', 'missing_host', /Which host\?/],
    ['only flags', '--live --parallel 2', 'missing_host', /Which host\?/],
    ['unknown flag', 'host-1 --force', 'unknown_flag', /Unknown option --force\./],
    ['typo gets a suggestion', 'host-1 --paralel 2', 'unknown_flag', /Did you mean --parallel\?/],
    ['single-dash flag', 'host-1 -l', 'unknown_flag', /Unknown option -l/],
    ['bad number', 'host-1 --parallel four', 'bad_number', /whole number, got "four"/],
    ['fractional number', 'host-1 --parallel 2.5', 'bad_number', /whole number/],
    ['negative number', 'host-1 --parallel -1', 'bad_number', /whole number, got "-1"/],
    ['zero', 'host-1 --parallel 0', 'bad_number', /between 1 and/],
    ['too large', `host-1 --parallel ${MAX_PARALLEL + 1}`, 'bad_number', /between 1 and 100/],
    [
      'conflicting modes',
      'host-1 --live --cold',
      'conflicting_modes',
      /--live and --cold cannot be combined/,
    ],
    ['conflicting modes (rebuild)', 'host-1 --rebuild --live', 'conflicting_modes', /--rebuild and --live/],
    ['missing value at end', 'host-1 --to', 'missing_value', /--to needs a value/],
    ['missing value before a flag', 'host-1 --parallel --live', 'missing_value', /--parallel needs a value/],
    ['empty quoted value', 'host-1 --reason ""', 'missing_value', /--reason needs a value/],
    ['empty inline value', 'host-1 --to=', 'missing_value', /--to needs a value/],
    ['extra argument', 'host-1 host-2', 'extra_argument', /Unexpected argument "host-2"\. Only one host/],
    ['unquoted reason', 'host-1 --reason disk is dead', 'extra_argument', /Put the --reason text in quotes/],
    ['duplicate value flag', 'host-1 --to a --to b', 'duplicate_flag', /--to is given more than once/],
    ['unterminated quote', 'host-1 --reason "oops', 'unterminated_quote', /never closed/],
    ['bad host characters', 'host_1;rm', 'bad_host', /not a compute host name/],
    ['bad target host', 'host-1 --to "host 2"', 'bad_host', /Target host \(--to\)/],
    ['target is the source', 'host-1 --to host-1', 'conflicting_flags', /is the host being evacuated/],
    ['only and except', 'host-1 --only a --except b', 'conflicting_flags', /cannot be combined/],
    ['empty list entry', 'host-1 --only a,,b', 'bad_value', /without empty entries/],
    ['value on a boolean flag', 'host-1 --dry-run=yes', 'bad_value', /--dry-run takes no value/],
    [
      'fenced with live',
      'host-1 --live --fenced',
      'conflicting_flags',
      /--fenced only applies to evacuation/,
    ],
    ['help with arguments', 'help me', 'extra_argument', /after help/],
    ['status with two hosts', 'status a b', 'extra_argument', /at most one host/],
    ['status with a flag', 'status --live', 'unknown_flag', /takes no options/],
  ])('%s', (_name, text, code, message) => {
    const error = failure(text);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(error.usage).toBe(USAGE);
  });

  it('rejects a reason that would not fit in Nova', () => {
    const error = failure(`host-1 --reason "${'x'.repeat(MAX_REASON_LENGTH + 1)}"`);
    expect(error.code).toBe('bad_value');
    expect(error.message).toMatch(/keep it under 150/);
  });

  it('rejects a host name longer than Nova allows', () => {
    expect(failure(`h${'x'.repeat(255)}`).code).toBe('bad_host');
  });
});

describe('tokenize', () => {
  it('marks quoted tokens', () => {
    expect(tokenize('a "b c" --d=\u201Ce f\u201D')).toEqual([
      { text: 'a', quoted: false, hasQuotes: false },
      { text: 'b c', quoted: true, hasQuotes: true },
      { text: '--d=e f', quoted: false, hasQuotes: true },
    ]);
  });

  it('joins adjacent quoted and unquoted parts', () => {
    expect(tokenize('"a b"c')).toEqual([{ text: 'a bc', quoted: true, hasQuotes: true }]);
  });
});
