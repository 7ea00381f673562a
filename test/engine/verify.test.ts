/**
 * The verification rules on their own: what Nova shows → done, failed, still moving.
 */
import { describe, expect, it } from 'vitest';
import type { InstanceAction, MigrationRecord, ServerInfo } from '../../src/nova/types.js';
import {
  compareMicroversions,
  describeSeen,
  expectedFinalStatuses,
  failureFromAction,
  judgeMove,
  parseNovaTime,
  pickMigration,
  type MoveFacts,
} from '../../src/engine/verify.js';
import { makeServer } from './fake-compute.js';

function server(overrides: Partial<ServerInfo>): ServerInfo {
  return makeServer({ host: 'host-1', status: 'ACTIVE', vmState: 'active', taskState: null, ...overrides });
}

function migration(overrides: Partial<MigrationRecord>): MigrationRecord {
  return {
    id: 7,
    uuid: null,
    instanceId: 's1',
    migrationType: 'live-migration',
    status: 'running',
    sourceCompute: 'host-1',
    destCompute: 'host-2',
    sourceNode: null,
    destNode: null,
    createdAt: '2025-01-01T10:00:05.000000',
    updatedAt: null,
    ...overrides,
  };
}

function facts(overrides: Partial<MoveFacts>): MoveFacts {
  return {
    kind: 'live-migrate',
    sourceHost: 'host-1',
    statusBefore: 'ACTIVE',
    microversion: '2.93',
    server: null,
    migration: null,
    confirmSent: false,
    ...overrides,
  };
}

describe('judgeMove: live migration', () => {
  it('is done only when the server is on another host, in its state, and the record says completed', () => {
    const moved = server({ host: 'host-2' });
    expect(judgeMove(facts({ server: moved, migration: migration({ status: 'completed' }) }))).toEqual({
      verdict: 'done',
      destinationHost: 'host-2',
      migrationId: 7,
    });
    expect(
      judgeMove(facts({ server: moved, migration: migration({ status: 'post-migrating' }) })),
    ).toMatchObject({
      verdict: 'unverified',
      message: expect.stringContaining('migration 7 is "post-migrating" (expected completed)'),
    });
    expect(judgeMove(facts({ server: moved, migration: null }))).toMatchObject({
      verdict: 'unverified',
      message: expect.stringContaining('no live-migration record'),
    });
  });

  it('a paused server must still be paused; anything else is a verification failure', () => {
    const paused = facts({ statusBefore: 'PAUSED', migration: migration({ status: 'completed' }) });
    expect(judgeMove({ ...paused, server: server({ host: 'host-2', status: 'PAUSED' }) }).verdict).toBe(
      'done',
    );
    expect(judgeMove({ ...paused, server: server({ host: 'host-2', status: 'ACTIVE' }) })).toMatchObject({
      verdict: 'failed',
      source: 'verification',
      message: 'The server moved to host-2 but is ACTIVE; expected PAUSED.',
    });
  });

  it("Nova's silent failure: back ACTIVE on the source with the record in error is a failure that needs the event", () => {
    const verdict = judgeMove(facts({ server: server({}), migration: migration({ status: 'error' }) }));
    expect(verdict).toMatchObject({ verdict: 'failed', source: 'migration', lookForEvent: true });
    expect(judgeMove(facts({ server: server({}), migration: migration({ status: 'failed' }) })).verdict).toBe(
      'failed',
    );
  });

  it('a record claiming success while the server never left is not done: it is looked at again, then failed', () => {
    expect(
      judgeMove(facts({ server: server({}), migration: migration({ status: 'completed' }) })),
    ).toMatchObject({
      verdict: 'unverified',
      destinationHost: null,
    });
  });

  it('busy servers are moving; idle on the source without a record is only suspicious', () => {
    expect(
      judgeMove(facts({ server: server({ status: 'MIGRATING', taskState: 'migrating' }) })).verdict,
    ).toBe('moving');
    expect(judgeMove(facts({ server: server({}) })).verdict).toBe('idle-on-source');
    expect(judgeMove(facts({})).verdict).toBe('unseen');
  });

  it('ERROR with a fault fails with the fault (and its detail line); deleted servers fail', () => {
    const errored = server({
      status: 'ERROR',
      fault: {
        code: 500,
        message: 'No valid host was found.',
        details: 'Traceback...\nNoValidHost: x',
        created: null,
      },
    });
    expect(judgeMove(facts({ server: errored }))).toMatchObject({
      verdict: 'failed',
      source: 'fault',
      message: 'No valid host was found. (NoValidHost: x)',
    });
    expect(judgeMove(facts({ server: server({ status: 'DELETED' }) }))).toMatchObject({ verdict: 'failed' });
  });
});

describe('judgeMove: cold migration and evacuation', () => {
  const cold = facts({
    kind: 'cold-migrate',
    migration: migration({ migrationType: 'migration', status: 'finished' }),
  });

  it('VERIFY_RESIZE on the destination needs a confirm, once', () => {
    const verify = server({ host: 'host-3', status: 'VERIFY_RESIZE', vmState: 'resized' });
    expect(judgeMove({ ...cold, server: verify })).toEqual({
      verdict: 'needs-confirm',
      destinationHost: 'host-3',
    });
    expect(judgeMove({ ...cold, server: verify, confirmSent: true }).verdict).toBe('moving');
  });

  it('done after the confirm when back in the state before and the record is confirmed', () => {
    const stopped = { ...cold, statusBefore: 'SHUTOFF', confirmSent: true };
    const confirmed = migration({ migrationType: 'migration', status: 'confirmed' });
    expect(
      judgeMove({ ...stopped, server: server({ host: 'host-3', status: 'SHUTOFF' }), migration: confirmed })
        .verdict,
    ).toBe('done');
    expect(
      judgeMove({ ...stopped, server: server({ host: 'host-3', status: 'ACTIVE' }), migration: confirmed }),
    ).toMatchObject({ verdict: 'failed', source: 'verification' });
    // Moved and ACTIVE without our confirm: only acceptable once Nova says it auto-confirmed.
    expect(judgeMove({ ...cold, server: server({ host: 'host-3' }) }).verdict).toBe('unverified');
    expect(judgeMove({ ...cold, server: server({ host: 'host-3' }), migration: confirmed }).verdict).toBe(
      'done',
    );
  });

  it('evacuation: elsewhere with a done/completed record, a stopped server stays SHUTOFF, all land SHUTOFF from 2.95', () => {
    const evac = facts({
      kind: 'evacuate',
      migration: migration({ migrationType: 'evacuation', status: 'done' }),
    });
    expect(judgeMove({ ...evac, server: server({ host: 'host-2' }) }).verdict).toBe('done');
    expect(
      judgeMove({ ...evac, microversion: '2.95', server: server({ host: 'host-2', status: 'SHUTOFF' }) })
        .verdict,
    ).toBe('done');
    const stopped = { ...evac, statusBefore: 'SHUTOFF' };
    // Real Zed (2.93) rebuilds a stopped server and powers it off again.
    expect(
      judgeMove({ ...stopped, microversion: '2.93', server: server({ host: 'host-2', status: 'SHUTOFF' }) })
        .verdict,
    ).toBe('done');
    expect(judgeMove({ ...stopped, microversion: '2.93', server: server({ host: 'host-2' }) }).verdict).toBe(
      'failed',
    );
    expect(
      judgeMove({ ...stopped, microversion: '2.95', server: server({ host: 'host-2', status: 'SHUTOFF' }) })
        .verdict,
    ).toBe('done');
    expect(judgeMove({ ...stopped, microversion: '2.96', server: server({ host: 'host-2' }) }).verdict).toBe(
      'failed',
    );
    // Real Zed: the migrations list can say done while the servers list still shows the source
    // (read one after the other): not a failure yet, look again.
    expect(judgeMove({ ...evac, server: server({ host: 'host-1' }) })).toMatchObject({
      verdict: 'unverified',
      destinationHost: null,
      message: 'Nova reports the evacuation done, but the server is still on host-1.',
    });
    // Evacuating an ERROR server: ERROR with a task in progress is still moving.
    expect(judgeMove({ ...evac, server: server({ status: 'ERROR', taskState: 'rebuilding' }) }).verdict).toBe(
      'moving',
    );
  });
});

describe('helpers', () => {
  it('expected statuses and microversion order', () => {
    expect(expectedFinalStatuses('cold-migrate', 'SHUTOFF', '2.1')).toEqual(['SHUTOFF']);
    expect(expectedFinalStatuses('evacuate', 'ERROR', '2.96')).toEqual(['ACTIVE']);
    expect(expectedFinalStatuses('evacuate', 'ERROR', '2.93')).toEqual(['ACTIVE']);
    // Nova powers a stopped server off again after the rebuild, at every microversion (real Zed: 2.93).
    expect(expectedFinalStatuses('evacuate', 'SHUTOFF', '2.93')).toEqual(['SHUTOFF']);
    expect(expectedFinalStatuses('evacuate', 'SHUTOFF', '2.96')).toEqual(['SHUTOFF']);
    // From 2.95 every other evacuated server lands stopped.
    expect(expectedFinalStatuses('evacuate', 'ACTIVE', '2.93')).toEqual(['ACTIVE']);
    expect(expectedFinalStatuses('evacuate', 'ACTIVE', '2.95')).toEqual(['SHUTOFF']);
    expect(compareMicroversions('2.100', '2.95')).toBeGreaterThan(0);
    expect(compareMicroversions('2.9', '2.10')).toBeLessThan(0);
  });

  it('reads Nova times without a zone as UTC', () => {
    expect(parseNovaTime('2025-01-01T10:00:00.000000')).toBe(Date.UTC(2025, 0, 1, 10));
    expect(parseNovaTime('2025-01-01T10:00:00Z')).toBe(Date.UTC(2025, 0, 1, 10));
    expect(parseNovaTime('2025-01-01T11:00:00+01:00')).toBe(Date.UTC(2025, 0, 1, 10));
    expect(parseNovaTime('garbage')).toBeNull();
    expect(parseNovaTime(null)).toBeNull();
  });

  it("picks this attempt's record: right type and source, not older than the intent, not an earlier attempt's", () => {
    const attempt = {
      kind: 'live-migrate' as const,
      sourceHost: 'host-1',
      notBeforeMs: Date.UTC(2025, 0, 1, 10),
      earlierMigrationIds: [9],
    };
    const records = [
      migration({ id: 5, createdAt: '2025-01-01T09:00:00' }),
      migration({ id: 6, migrationType: 'migration' }),
      migration({ id: 8, sourceCompute: 'host-10' }),
      migration({ id: 9 }),
      migration({ id: 7 }),
    ];
    expect(pickMigration(records, attempt)?.id).toBe(7);
    expect(pickMigration(records.slice(0, 4), attempt)).toBeNull();
  });

  it('takes the reason from the first Error event: the traceback line when details is only a class name', () => {
    const action: InstanceAction = {
      action: 'live-migration',
      requestId: 'req-1',
      instanceId: 's1',
      startTime: null,
      updatedAt: null,
      message: 'Error',
      events: [
        {
          event: 'compute_check_can_live_migrate_destination',
          startTime: null,
          finishTime: null,
          result: 'Success',
          traceback: null,
          details: null,
          host: null,
        },
        {
          event: 'compute_live_migration',
          startTime: null,
          finishTime: null,
          result: 'Error',
          traceback:
            'Traceback (most recent call last):\n  File "x"\nlibvirt.libvirtError: operation failed\n',
          details: 'libvirtError',
          host: 'host-1',
        },
      ],
    };
    expect(failureFromAction(action)).toBe('compute_live_migration: libvirt.libvirtError: operation failed');
    const withDetails = structuredClone(action);
    const event = withDetails.events[1];
    if (event) {
      event.traceback = null;
      event.details = 'Migration pre-check error: Unable to migrate';
    }
    expect(failureFromAction(withDetails)).toBe(
      'compute_live_migration: Migration pre-check error: Unable to migrate',
    );
    expect(failureFromAction({ ...action, events: [] })).toBeNull();
  });

  it('describes what was last seen', () => {
    expect(describeSeen(null, null)).toMatch(/nothing seen/);
    expect(describeSeen(server({ status: 'MIGRATING', taskState: 'migrating' }), migration({}))).toBe(
      'MIGRATING, task migrating on host-1; migration 7 "running"',
    );
  });
});
