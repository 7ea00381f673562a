import { describe, expect, it } from 'vitest';
import {
  ActionId,
  ActionValueError,
  MAX_PARALLEL_OPTION,
  RunBlock,
  SCHEDULER_CHOOSES_OPTION,
  decodeActionValue,
  decodeModeOption,
  decodeParallelOption,
  decodeRunBlockId,
  decodeTargetOption,
  encodeActionValue,
  encodeModeOption,
  encodeParallelOption,
  encodeTargetOption,
  isActionId,
  planRevision,
  runBlockId,
} from '../../src/slack/action-ids.js';
import { makePlan } from './fixtures.js';

describe('ActionId', () => {
  it('has the agreed, distinct, Slack-sized ids', () => {
    expect(ActionId).toMatchObject({
      Confirm: 'evac_confirm',
      Cancel: 'evac_cancel',
      Stop: 'evac_stop',
      RetryServer: 'evac_retry_server',
      RetryServerAsCold: 'evac_retry_server_cold',
      RetryFailed: 'evac_retry_failed',
      ReenableHost: 'evac_reenable',
      ChangeMode: 'evac_mode',
      ChangeTarget: 'evac_target',
      ChangeParallel: 'evac_parallel',
      ConfirmFenced: 'evac_fenced',
      Approve: 'evac_approve',
      AbortMigration: 'evac_abort',
      ForceComplete: 'evac_force_complete',
    });
    const values = Object.values(ActionId);
    expect(new Set(values).size).toBe(values.length);
    for (const value of values) expect(value).toMatch(/^evac_[a-z_]{1,200}$/);
  });

  it('recognises its own ids only', () => {
    expect(isActionId('evac_stop')).toBe(true);
    expect(isActionId('evac_nope')).toBe(false);
    expect(isActionId(undefined)).toBe(false);
    expect(isActionId(42)).toBe(false);
  });
});

describe('encodeActionValue / decodeActionValue', () => {
  it('round-trips run, server and nonce', () => {
    const full = { runId: 'run-7', serverId: '00000000-0000-4000-8000-000000000001', nonce: 'abc123' };
    expect(decodeActionValue(encodeActionValue(full))).toEqual(full);
    expect(decodeActionValue(encodeActionValue({ runId: 'run-7' }))).toEqual({ runId: 'run-7' });
    expect(decodeActionValue(encodeActionValue({ runId: 'r', nonce: 'n' }))).toEqual({
      runId: 'r',
      nonce: 'n',
    });
  });

  it('keeps the largest allowed value under the 2,000-character button limit, even full of quotes', () => {
    const value = encodeActionValue({
      runId: '"'.repeat(200),
      serverId: '\\'.repeat(200),
      nonce: '"'.repeat(100),
    });
    expect(value.length).toBeLessThanOrEqual(2000);
    expect(decodeActionValue(value).runId).toBe('"'.repeat(200));
  });

  it('refuses to encode ids the listener could not decode', () => {
    expect(() => encodeActionValue({ runId: '' })).toThrow(/runId: run id is empty/);
    expect(() => encodeActionValue({ runId: 'x'.repeat(201) })).toThrow(/run id is too long/);
    expect(() => encodeActionValue({ runId: 'r', serverId: '' })).toThrow(/serverId: server id is empty/);
    expect(() => encodeActionValue({ runId: 'r', nonce: 'n'.repeat(101) })).toThrow(ActionValueError);
  });

  it.each([
    [undefined, /missing or not a string/],
    [42, /missing or not a string/],
    ['', /missing or not a string/],
    ['not json', /not JSON/],
    ['{"r":', /not JSON/],
    ['[1,2]', /not a bot action value/],
    ['null', /not a bot action value/],
    ['{}', /runId/],
    ['{"r":""}', /runId: run id is empty/],
    ['{"r":7}', /runId/],
    ['{"r":"run","s":12}', /serverId/],
    ['{"r":"run","x":"extra"}', /not a bot action value/],
    [JSON.stringify({ r: 'r'.repeat(201) }), /run id is too long/],
  ])('rejects %j with a clear error', (raw, message) => {
    let caught: unknown;
    try {
      decodeActionValue(raw);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ActionValueError);
    expect((caught as Error).message).toMatch(message);
    expect((caught as ActionValueError).raw).toBe(raw);
  });
});

describe('run block ids', () => {
  it('round-trip, including run ids with colons and a revision', () => {
    const id = runBlockId(RunBlock.PlanControls, 'run:with:colons', 'abc123');
    expect(id.length).toBeLessThanOrEqual(255);
    expect(decodeRunBlockId(id)).toEqual({
      purpose: RunBlock.PlanControls,
      runId: 'run:with:colons',
      revision: 'abc123',
    });
    expect(decodeRunBlockId(runBlockId(RunBlock.PlanControls, 'r1'))).toEqual({
      purpose: RunBlock.PlanControls,
      runId: 'r1',
      revision: '',
    });
  });

  it('fit in 255 characters for the longest run id', () => {
    expect(runBlockId(RunBlock.PlanControls, 'x'.repeat(200), 'f'.repeat(32)).length).toBeLessThanOrEqual(
      255,
    );
    expect(() => runBlockId(RunBlock.PlanControls, 'x'.repeat(201))).toThrow(ActionValueError);
    expect(() => runBlockId(RunBlock.PlanControls, 'r', 'bad revision!')).toThrow(/revision/);
  });

  it.each([
    undefined,
    '',
    'evac_plan_controls',
    'other:abc:run',
    'evac_plan_controls:rev',
    'evac_plan_controls:r!v:run',
  ])('rejects %j', (raw) => {
    expect(() => decodeRunBlockId(raw)).toThrow(ActionValueError);
  });
});

describe('select option values', () => {
  it('round-trip modes and reject others', () => {
    for (const mode of ['auto', 'live', 'cold', 'evacuate'] as const) {
      expect(decodeModeOption(encodeModeOption(mode))).toBe(mode);
    }
    expect(() => decodeModeOption('rebuild')).toThrow(
      /Unknown mode "rebuild": expected one of auto, live, cold, evacuate/,
    );
    expect(() => decodeModeOption(undefined)).toThrow(ActionValueError);
  });

  it('round-trip target hosts and the scheduler choice', () => {
    expect(decodeTargetOption(encodeTargetOption(null))).toBeNull();
    expect(encodeTargetOption(null)).toBe(SCHEDULER_CHOOSES_OPTION);
    expect(decodeTargetOption(encodeTargetOption('compute-3.example.net'))).toBe('compute-3.example.net');
    expect(() => encodeTargetOption('h'.repeat(151))).toThrow(ActionValueError);
    expect(() => encodeTargetOption('')).toThrow(ActionValueError);
    expect(() => decodeTargetOption('')).toThrow(/not a host name/);
    expect(() => decodeTargetOption(5)).toThrow(ActionValueError);
  });

  it('round-trip parallelism and reject anything but a whole number in range', () => {
    for (const n of [1, 2, 8, MAX_PARALLEL_OPTION])
      expect(decodeParallelOption(encodeParallelOption(n))).toBe(n);
    for (const raw of ['0', '-1', '1.5', '08', 'four', '', '1001', 3, null]) {
      expect(() => decodeParallelOption(raw), String(raw)).toThrow(ActionValueError);
    }
    expect(() => encodeParallelOption(0)).toThrow(/whole number/);
    expect(() => encodeParallelOption(2.5)).toThrow(ActionValueError);
  });
});

describe('planRevision', () => {
  it('is stable for the same plan and changes when what the preview shows changes', () => {
    const plan = makePlan({ servers: 5 });
    const revision = planRevision(plan);
    expect(revision).toMatch(/^[0-9a-f]{16}$/);
    expect(planRevision(makePlan({ servers: 5 }))).toBe(revision);
    expect(planRevision({ ...plan, concurrency: 8 })).not.toBe(revision);
    expect(planRevision({ ...plan, mode: 'cold' })).not.toBe(revision);
    expect(planRevision({ ...plan, request: { ...plan.request, targetHost: 'host-3' } })).not.toBe(revision);
    expect(planRevision({ ...plan, request: { ...plan.request, hostFenced: true } })).not.toBe(revision);
    expect(planRevision(makePlan({ servers: 6 }))).not.toBe(revision);
  });
});
