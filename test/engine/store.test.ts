/**
 * The SQLite run store: versioned schema, atomic steps, idempotency keys, and stored data read
 * back through its schema.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, SqliteRunStore } from '../../src/engine/store-sqlite.js';
import {
  DuplicateControlError,
  newMoveContext,
  newRunInternal,
  RunStoreError,
  type ControlRecord,
} from '../../src/engine/store.js';
import type { EvacuationRun, ServerRun } from '../../src/engine/types.js';
import { makeServer, makeService } from './fake-compute.js';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'engine-store-'));
  path = join(dir, 'nested', 'runs.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function serverRun(id: string, state: ServerRun['state'] = 'pending'): ServerRun {
  return {
    serverId: id,
    name: `vm-${id}`,
    action: 'live-migrate',
    state,
    attempt: 0,
    sourceHost: 'host-1',
    destinationHost: null,
    migrationId: null,
    requestId: null,
    startedAt: null,
    finishedAt: null,
    progress: null,
    failure: null,
    skipReason: null,
  };
}

function run(id: string, host = 'host-1', createdAt = '2025-01-01T10:00:00.000Z'): EvacuationRun {
  const snapshot = makeServer({ id: `${id}-s1`, host });
  return {
    id,
    host,
    state: 'planned',
    plan: {
      request: { host, mode: 'live', requestedBy: 'U1' },
      host,
      service: makeService(host),
      mode: 'live',
      modeReason: 'service up',
      servers: [
        {
          serverId: snapshot.id,
          name: snapshot.name,
          projectId: snapshot.projectId,
          status: 'ACTIVE',
          flavorName: 'm1.small',
          vcpus: 1,
          ramMb: 2048,
          action: 'live-migrate',
          why: 'ACTIVE',
          findings: [],
          snapshot,
        },
      ],
      findings: [],
      runnable: true,
      needsForceDown: false,
      capacity: { freeVcpus: null, freeRamMb: null, neededVcpus: 1, neededRamMb: 2048, candidateHosts: [] },
      concurrency: 2,
      createdAt,
    },
    servers: [serverRun(`${id}-s1`), serverRun(`${id}-s2`)],
    requestedBy: 'U1',
    confirmedBy: null,
    stoppedBy: null,
    createdAt,
    startedAt: null,
    finishedAt: null,
    serviceDisabledByRun: false,
    frontEnd: { channel: 'C1' },
  };
}

function insert(store: SqliteRunStore, r: EvacuationRun): void {
  store.commit({
    run: { run: r, internal: newRunInternal(r.createdAt), writePlan: true },
    servers: r.servers.map((server, position) => ({
      runId: r.id,
      position,
      server,
      move: newMoveContext('ACTIVE', 'live-migrate'),
    })),
    audit: [{ runId: r.id, at: r.createdAt, actor: 'U1', action: 'preview', detail: { n: 2 } }],
  });
}

function control(key: string, runId = 'r-1'): ControlRecord {
  return {
    idempotencyKey: key,
    runId,
    action: 'stop',
    actor: 'U1',
    at: '2025-01-01T10:00:00Z',
    outcome: null,
    message: null,
  };
}

describe('SqliteRunStore', () => {
  it('creates the schema through versioned migrations, in WAL mode, and reopens without re-applying', () => {
    const store = new SqliteRunStore({ path });
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    store.close();
    const raw = new Database(path);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get()).toEqual({ n: SCHEMA_VERSION });
    raw.close();
    const again = new SqliteRunStore({ path });
    expect(again.schemaVersion()).toBe(SCHEMA_VERSION);
    again.close();
  });

  it('refuses a database from a newer version of the program', () => {
    new SqliteRunStore({ path }).close();
    const raw = new Database(path);
    raw
      .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
      .run(99, 'future', 'now');
    raw.close();
    expect(() => new SqliteRunStore({ path })).toThrow(/schema version 99, newer than this program knows/);
  });

  it('round-trips runs, servers in plan order, move contexts, journal and audit', () => {
    const store = new SqliteRunStore({ path });
    const r = run('r-1');
    insert(store, r);
    store.commit({
      servers: [
        {
          runId: 'r-1',
          position: 1,
          server: { ...serverRun('r-1-s2', 'requested'), requestId: 'req-9' },
          move: { ...newMoveContext('ACTIVE', 'live-migrate'), intentAt: 'x' },
        },
      ],
      journal: [
        { runId: 'r-1', serverId: 'r-1-s2', attempt: 1, phase: 'intent', action: 'live-migrate', at: 't1' },
        {
          runId: 'r-1',
          serverId: 'r-1-s2',
          attempt: 1,
          phase: 'result',
          action: 'live-migrate',
          at: 't2',
          outcome: 'accepted',
          requestId: 'req-9',
        },
      ],
    });
    const loaded = store.getRun('r-1');
    expect(loaded?.run.plan).toEqual(r.plan);
    expect(loaded?.run.frontEnd).toEqual({ channel: 'C1' });
    expect(loaded?.run.servers.map((s) => [s.serverId, s.state])).toEqual([
      ['r-1-s1', 'pending'],
      ['r-1-s2', 'requested'],
    ]);
    expect(loaded?.moves['r-1-s2']?.intentAt).toBe('x');
    expect(store.journal('r-1').map((j) => [j.phase, j.outcome, j.requestId])).toEqual([
      ['intent', null, null],
      ['result', 'accepted', 'req-9'],
    ]);
    expect(store.audit('r-1')).toEqual([
      { runId: 'r-1', at: r.createdAt, actor: 'U1', action: 'preview', detail: { n: 2 } },
    ]);
    store.close();
  });

  it('a step is atomic: when any part fails nothing of it is written', () => {
    const store = new SqliteRunStore({ path });
    insert(store, run('r-1'));
    store.commit({ claimControl: control('k-1') });
    expect(() =>
      store.commit({
        journal: [
          { runId: 'r-1', serverId: 's', attempt: 1, phase: 'intent', action: 'live-migrate', at: 't' },
        ],
        audit: [{ runId: 'r-1', at: 't', actor: 'U2', action: 'stop', detail: {} }],
        claimControl: control('k-1'),
      }),
    ).toThrow(DuplicateControlError);
    expect(store.journal('r-1')).toEqual([]);
    expect(store.audit('r-1')).toHaveLength(1);
    // A run update for a run that does not exist fails, and takes its journal entry with it.
    expect(() =>
      store.commit({
        run: { run: run('r-missing'), internal: newRunInternal('t') },
        journal: [
          { runId: 'r-1', serverId: null, attempt: 1, phase: 'intent', action: 'disable-service', at: 't' },
        ],
      }),
    ).toThrow(RunStoreError);
    expect(store.journal('r-1')).toEqual([]);
    store.close();
  });

  it('idempotency keys are unique and remember the outcome', () => {
    const store = new SqliteRunStore({ path });
    insert(store, run('r-1'));
    store.commit({
      claimControl: control('slack-1'),
      finishControl: { idempotencyKey: 'slack-1', outcome: 'applied', message: 'Stopping.' },
    });
    expect(store.findControl('slack-1')).toMatchObject({
      outcome: 'applied',
      message: 'Stopping.',
      actor: 'U1',
    });
    expect(store.findControl('slack-2')).toBeNull();
    expect(() =>
      store.commit({ finishControl: { idempotencyKey: 'nope', outcome: 'applied', message: '' } }),
    ).toThrow(/No claimed control/);
    store.close();
  });

  it('lists runs newest first, by state and host; a re-plan can replace the server rows', () => {
    const store = new SqliteRunStore({ path });
    insert(store, run('r-a', 'host-1', '2025-01-01T10:00:00.000Z'));
    insert(store, run('r-b', 'host-2', '2025-01-01T11:00:00.000Z'));
    const c = run('r-c', 'host-1', '2025-01-01T12:00:00.000Z');
    insert(store, c);
    store.commit({ run: { run: { ...c, state: 'finished' }, internal: newRunInternal('t') } });
    expect(store.listRuns().map((s) => s.run.id)).toEqual(['r-c', 'r-b', 'r-a']);
    expect(store.listRuns({ host: 'host-1' }).map((s) => s.run.id)).toEqual(['r-c', 'r-a']);
    expect(store.listRuns({ states: ['planned'], host: 'host-1' }).map((s) => s.run.id)).toEqual(['r-a']);
    expect(store.listRuns({ limit: 1 }).map((s) => s.run.id)).toEqual(['r-c']);
    store.commit({
      replaceServersOf: 'r-a',
      servers: [
        { runId: 'r-a', position: 0, server: serverRun('only'), move: newMoveContext('ACTIVE', null) },
      ],
    });
    expect(store.getRun('r-a')?.run.servers.map((s) => s.serverId)).toEqual(['only']);
    store.close();
  });

  it('reports damaged stored data with the path of the bad field, and refuses use after close', () => {
    const store = new SqliteRunStore({ path });
    insert(store, run('r-1'));
    const raw = new Database(path);
    raw
      .prepare(
        `UPDATE run_servers SET data = json_set(data, '$.state', 'teleported') WHERE server_id = 'r-1-s1'`,
      )
      .run();
    raw.close();
    expect(() => store.getRun('r-1')).toThrow(/Stored server r-1-s1 is malformed at "state"/);
    store.close();
    expect(() => store.getRun('r-1')).toThrow(/closed/);
  });
});
