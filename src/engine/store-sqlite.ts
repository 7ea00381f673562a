/**
 * `RunStore` on a local SQLite file (better-sqlite3): WAL journal so readers never block the
 * writer, synchronous=FULL so a committed step survives power loss, prepared statements, and a
 * versioned schema applied through the `schema_migrations` table.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { z } from 'zod';
import type { AuditEntry } from './api.js';
import {
  auditRowSchema,
  controlRowSchema,
  detailSchema,
  journalRowSchema,
  moveContextSchema,
  planSchema,
  runFieldsSchema,
  runInternalSchema,
  serverRunSchema,
} from './store-schemas.js';
import {
  DuplicateControlError,
  RunStoreError,
  type ControlRecord,
  type JournalEntry,
  type ListStoredRunsQuery,
  type MoveContext,
  type RunStore,
  type RunStoreWrite,
  type StoredRun,
} from './store.js';
import type { EvacuationPlan, EvacuationRun, ServerRun } from './types.js';

interface SchemaMigration {
  version: number;
  name: string;
  sql: string;
}

/** Append only: a released migration is never edited, a change is a new version. */
const MIGRATIONS: SchemaMigration[] = [
  {
    version: 1,
    name: 'runs, servers, journal, audit, controls',
    sql: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        plan TEXT NOT NULL,
        data TEXT NOT NULL,
        internal TEXT NOT NULL
      );
      CREATE INDEX runs_by_host_state ON runs (host, state);
      CREATE INDEX runs_by_state_created ON runs (state, created_at);
      CREATE TABLE run_servers (
        run_id TEXT NOT NULL REFERENCES runs (id),
        server_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        state TEXT NOT NULL,
        data TEXT NOT NULL,
        move TEXT NOT NULL,
        PRIMARY KEY (run_id, server_id)
      );
      CREATE TABLE journal (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs (id),
        server_id TEXT,
        attempt INTEGER NOT NULL,
        phase TEXT NOT NULL CHECK (phase IN ('intent', 'result')),
        action TEXT NOT NULL,
        at TEXT NOT NULL,
        request_id TEXT,
        outcome TEXT,
        detail TEXT NOT NULL
      );
      CREATE INDEX journal_by_run ON journal (run_id, seq);
      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs (id),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
      );
      CREATE INDEX audit_by_run ON audit (run_id, seq);
      CREATE TABLE controls (
        idempotency_key TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        outcome TEXT,
        message TEXT
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

export interface SqliteRunStoreOptions {
  /** File path, or ':memory:' for a throwaway store. */
  path: string;
  /** How long a writer waits for another connection's lock, in ms (default 5000). */
  busyTimeoutMs?: number;
}

type Row = Record<string, unknown>;

function parseJson<T extends z.ZodType>(schema: T, text: unknown, what: string): z.infer<T> {
  let value: unknown;
  try {
    value = JSON.parse(String(text));
  } catch (err) {
    throw new RunStoreError(`Stored ${what} is not valid JSON.`, { cause: err });
  }
  return parseValue(schema, value, what);
}

function parseValue<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') ?? '';
    throw new RunStoreError(`Stored ${what} is malformed at "${path}": ${issue?.message ?? 'invalid'}.`);
  }
  return parsed.data;
}

export class SqliteRunStore implements RunStore {
  private readonly db: Database.Database;
  private readonly statements: {
    insertRun: Database.Statement;
    updateRun: Database.Statement;
    upsertServer: Database.Statement;
    insertJournal: Database.Statement;
    insertAudit: Database.Statement;
    insertControl: Database.Statement;
    finishControl: Database.Statement;
    deleteServers: Database.Statement;
    findControl: Database.Statement;
    getRun: Database.Statement;
    getServers: Database.Statement;
    journal: Database.Statement;
    audit: Database.Statement;
  };
  private readonly listStatements = new Map<string, Database.Statement>();
  private readonly commitTransaction: (write: RunStoreWrite) => void;
  private closed = false;

  constructor(options: SqliteRunStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    try {
      this.db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
    } catch (err) {
      throw new RunStoreError(`Cannot open the run store at ${options.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.migrate();
    const db = this.db;
    this.statements = {
      insertRun: db.prepare(
        `INSERT INTO runs (id, host, state, created_at, updated_at, plan, data, internal)
         VALUES (@id, @host, @state, @createdAt, @updatedAt, @plan, @data, @internal)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at,
           plan = excluded.plan, data = excluded.data, internal = excluded.internal`,
      ),
      updateRun: db.prepare(
        `UPDATE runs SET state = @state, updated_at = @updatedAt, data = @data, internal = @internal WHERE id = @id`,
      ),
      upsertServer: db.prepare(
        `INSERT INTO run_servers (run_id, server_id, position, state, data, move)
         VALUES (@runId, @serverId, @position, @state, @data, @move)
         ON CONFLICT (run_id, server_id) DO UPDATE SET state = excluded.state, data = excluded.data, move = excluded.move`,
      ),
      insertJournal: db.prepare(
        `INSERT INTO journal (run_id, server_id, attempt, phase, action, at, request_id, outcome, detail)
         VALUES (@runId, @serverId, @attempt, @phase, @action, @at, @requestId, @outcome, @detail)`,
      ),
      insertAudit: db.prepare(
        `INSERT INTO audit (run_id, at, actor, action, detail) VALUES (@runId, @at, @actor, @action, @detail)`,
      ),
      insertControl: db.prepare(
        `INSERT INTO controls (idempotency_key, run_id, action, actor, at, outcome, message)
         VALUES (@idempotencyKey, @runId, @action, @actor, @at, @outcome, @message)`,
      ),
      finishControl: db.prepare(
        `UPDATE controls SET outcome = @outcome, message = @message WHERE idempotency_key = @idempotencyKey`,
      ),
      findControl: db.prepare(`SELECT * FROM controls WHERE idempotency_key = ?`),
      deleteServers: db.prepare(`DELETE FROM run_servers WHERE run_id = ?`),
      getRun: db.prepare(`SELECT * FROM runs WHERE id = ?`),
      getServers: db.prepare(`SELECT * FROM run_servers WHERE run_id = ? ORDER BY position, server_id`),
      journal: db.prepare(`SELECT * FROM journal WHERE run_id = ? ORDER BY seq`),
      audit: db.prepare(`SELECT * FROM audit WHERE run_id = ? ORDER BY seq`),
    };
    this.commitTransaction = db.transaction((write: RunStoreWrite) => this.applyWrite(write));
  }

  /** The schema version this file is at (for tests and diagnostics). */
  schemaVersion(): number {
    const row = this.db.prepare(`SELECT MAX(version) AS version FROM schema_migrations`).get() as
      Row | undefined;
    return typeof row?.version === 'number' ? row.version : 0;
  }

  private migrate(): void {
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
    );
    const current = this.schemaVersion();
    if (current > SCHEMA_VERSION) {
      throw new RunStoreError(
        `The run store is at schema version ${current}, newer than this program knows (${SCHEMA_VERSION}); ` +
          `upgrade the bot or point it at another database.`,
      );
    }
    const record = this.db.prepare(
      `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
    );
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      this.db.transaction(() => {
        this.db.exec(migration.sql);
        record.run(migration.version, migration.name, new Date().toISOString());
      })();
    }
  }

  commit(write: RunStoreWrite): void {
    this.assertOpen();
    try {
      this.commitTransaction(write);
    } catch (err) {
      if (err instanceof DuplicateControlError || err instanceof RunStoreError) throw err;
      throw new RunStoreError(`Writing to the run store failed: ${(err as Error).message}`, { cause: err });
    }
  }

  private applyWrite(write: RunStoreWrite): void {
    const s = this.statements;
    if (write.claimControl) {
      const claim = write.claimControl;
      if (s.findControl.get(claim.idempotencyKey)) throw new DuplicateControlError(claim.idempotencyKey);
      s.insertControl.run({ ...claim });
    }
    if (write.run) {
      const { run, internal, writePlan } = write.run;
      const params = {
        id: run.id,
        host: run.host,
        state: run.state,
        createdAt: run.createdAt,
        updatedAt: new Date().toISOString(),
        data: JSON.stringify(runFields(run)),
        internal: JSON.stringify(internal),
      };
      if (writePlan) {
        s.insertRun.run({ ...params, plan: JSON.stringify(run.plan) });
      } else if (s.updateRun.run(params).changes !== 1) {
        throw new RunStoreError(`Run ${run.id} is not in the store (its first write must include the plan).`);
      }
    }
    if (write.replaceServersOf !== undefined) s.deleteServers.run(write.replaceServersOf);
    for (const entry of write.servers ?? []) {
      s.upsertServer.run({
        runId: entry.runId,
        serverId: entry.server.serverId,
        position: entry.position,
        state: entry.server.state,
        data: JSON.stringify(entry.server),
        move: JSON.stringify(entry.move),
      });
    }
    for (const entry of write.journal ?? []) {
      s.insertJournal.run({
        runId: entry.runId,
        serverId: entry.serverId,
        attempt: entry.attempt,
        phase: entry.phase,
        action: entry.action,
        at: entry.at,
        requestId: entry.requestId ?? null,
        outcome: entry.outcome ?? null,
        detail: JSON.stringify(entry.detail ?? {}),
      });
    }
    for (const entry of write.audit ?? []) {
      s.insertAudit.run({ ...entry, detail: JSON.stringify(entry.detail) });
    }
    if (write.finishControl) {
      const done = write.finishControl;
      if (s.finishControl.run({ ...done }).changes !== 1) {
        throw new RunStoreError(`No claimed control with idempotency key "${done.idempotencyKey}".`);
      }
    }
  }

  getRun(runId: string): StoredRun | null {
    this.assertOpen();
    const row = this.statements.getRun.get(runId) as Row | undefined;
    return row ? this.assemble(row) : null;
  }

  listRuns(query: ListStoredRunsQuery = {}): StoredRun[] {
    this.assertOpen();
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.states && query.states.length > 0) {
      where.push(`state IN (${query.states.map(() => '?').join(', ')})`);
      params.push(...query.states);
    }
    if (query.host !== undefined) {
      where.push('host = ?');
      params.push(query.host);
    }
    const sql =
      `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
      `ORDER BY created_at DESC, id DESC LIMIT ?`;
    let statement = this.listStatements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.listStatements.set(sql, statement);
    }
    const rows = statement.all(...params, query.limit ?? 50) as Row[];
    return rows.map((row) => this.assemble(row));
  }

  findControl(idempotencyKey: string): ControlRecord | null {
    this.assertOpen();
    const row = this.statements.findControl.get(idempotencyKey);
    if (!row) return null;
    const parsed = parseValue(controlRowSchema, row, `control ${idempotencyKey}`);
    return {
      idempotencyKey: parsed.idempotency_key,
      runId: parsed.run_id,
      action: parsed.action,
      actor: parsed.actor,
      at: parsed.at,
      outcome: parsed.outcome,
      message: parsed.message,
    };
  }

  journal(runId: string): JournalEntry[] {
    this.assertOpen();
    return (this.statements.journal.all(runId) as Row[]).map((raw) => {
      const row = parseValue(journalRowSchema, raw, `journal entry of run ${runId}`);
      return {
        seq: row.seq,
        runId: row.run_id,
        serverId: row.server_id,
        attempt: row.attempt,
        phase: row.phase,
        action: row.action,
        at: row.at,
        requestId: row.request_id,
        outcome: row.outcome,
        detail: parseJson(detailSchema, row.detail, `journal detail ${row.seq}`),
      };
    });
  }

  audit(runId: string): AuditEntry[] {
    this.assertOpen();
    return (this.statements.audit.all(runId) as Row[]).map((raw) => {
      const row = parseValue(auditRowSchema, raw, `audit entry of run ${runId}`);
      return {
        runId: row.run_id,
        at: row.at,
        actor: row.actor,
        action: row.action,
        detail: parseJson(detailSchema, row.detail, `audit detail of run ${runId}`),
      };
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new RunStoreError('The run store is closed.');
  }

  private assemble(row: Row): StoredRun {
    const id = String(row.id);
    const fields = parseJson(runFieldsSchema, row.data, `run ${id}`);
    const plan: EvacuationPlan = parseJson(planSchema, row.plan, `plan of run ${id}`);
    const internal = parseJson(runInternalSchema, row.internal, `internal state of run ${id}`);
    const servers: ServerRun[] = [];
    const moves: Record<string, MoveContext> = {};
    for (const serverRow of this.statements.getServers.all(id) as Row[]) {
      const server: ServerRun = parseJson(
        serverRunSchema,
        serverRow.data,
        `server ${String(serverRow.server_id)}`,
      );
      servers.push(server);
      moves[server.serverId] = parseJson(moveContextSchema, serverRow.move, `move of ${server.serverId}`);
    }
    const run: EvacuationRun = { ...fields, plan, servers };
    return { run, internal, moves };
  }
}

function runFields(run: EvacuationRun): Omit<EvacuationRun, 'plan' | 'servers'> {
  const { plan: _plan, servers: _servers, ...fields } = run;
  return fields;
}
