/**
 * Follows one accepted move until it is verified done, failed, timed out or stopped. Fed by the
 * engine's single observer (batched changes), it asks Nova directly only when the batched view is
 * not enough, and only through the observer's per-cycle budget.
 */
import { OpenStackError } from '../nova/errors.js';
import type { LiveMigrationProgress, MigrationRecord, ServerInfo } from '../nova/types.js';
import { isRefusal, novaText, type EngineContext } from './context.js';
import type { Watch } from './observer.js';
import { findAttemptAction, wasSent } from './reconcile.js';
import type { ActiveRun } from './runner.js';
import type { MoveContext } from './store.js';
import type { MoveKind, ServerFailure, ServerProgress, ServerRun } from './types.js';
import {
  describeSeen,
  failureFromAction,
  INSTANCE_ACTION,
  judgeMove,
  parseNovaTime,
  pickMigration,
  type MoveVerdict,
} from './verify.js';

export interface TrackOptions {
  /** Engine time from which observations count (older ones may predate the request). */
  observeFromMs: number;
}

export class MoveTracker implements Watch {
  readonly key: string;
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private latest: ServerInfo | null = null;
  private deleted = false;
  private readonly migrations = new Map<number, MigrationRecord>();
  private busy = false;
  private over = false;
  private lastVerdict: MoveVerdict['verdict'] | null = null;
  private quietCycles = 0;
  private movingCycles = 0;
  private cyclesSinceLook = 0;
  private looks = 0;
  private lookWanted = false;
  private unverifiedSinceMs: number | null = null;
  private actionFailure: string | null = null;
  private actionMissing = false;

  constructor(
    private readonly ctx: EngineContext,
    private readonly owner: ActiveRun,
    readonly serverId: string,
    private readonly options: TrackOptions,
  ) {
    this.key = `${owner.id}/${serverId}`;
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  private get server(): ServerRun {
    return this.owner.server(this.serverId);
  }

  private get move(): MoveContext {
    return this.owner.move(this.serverId);
  }

  private get kind(): MoveKind {
    const kind = this.move.kind;
    if (!kind) throw new Error(`server ${this.serverId} is tracked without a kind of move`);
    return kind;
  }

  onServer(server: ServerInfo, cycleStartedAt: number): void {
    if (cycleStartedAt >= this.options.observeFromMs) this.latest = server;
  }

  onMigration(record: MigrationRecord): void {
    this.migrations.set(record.id, record);
  }

  wantsProgress(): boolean {
    return (
      !this.over &&
      this.kind === 'live-migrate' &&
      this.server.state === 'moving' &&
      this.movingCycles >= this.ctx.settings.progressAfterCycles
    );
  }

  onProgress(list: LiveMigrationProgress[]): void {
    if (this.over) return;
    const current = list.find((p) => p.id === this.server.migrationId) ?? list[0];
    if (!current) return;
    const total = current.memoryTotalBytes;
    const processed =
      current.memoryProcessedBytes ??
      (total !== null && current.memoryRemainingBytes !== null ? total - current.memoryRemainingBytes : null);
    const percent =
      total !== null && total > 0 && processed !== null
        ? Math.max(0, Math.min(100, Math.round((processed / total) * 100)))
        : null;
    const progress: ServerProgress = {
      percent,
      memoryProcessedBytes: processed,
      memoryTotalBytes: total,
      migrationStatus: current.status,
    };
    this.owner.noteProgress(this.serverId, progress, current.id);
  }

  dueWindow(): { from: number; to: number } | null {
    if (this.over) return null;
    const expected = this.ctx.expectedDurationMs(this.kind);
    const accepted = parseNovaTime(this.move.acceptedAt);
    if (expected === null || accepted === null) return null;
    return { from: accepted + 0.8 * expected, to: accepted + 1.5 * expected + this.ctx.pollIntervalMs };
  }

  wantsDirectLook(): boolean {
    return this.lookWanted && !this.over && !this.busy;
  }

  async directLook(): Promise<number> {
    this.lookWanted = false;
    this.cyclesSinceLook = 0;
    this.looks++;
    return this.look(this.lastVerdict === 'idle-on-source' || this.move.unconfirmedRequest !== null);
  }

  /** GETs the server and its migration records (and the instance action when asked). */
  private async look(withAction: boolean): Promise<number> {
    const { compute } = this.ctx;
    let requests = 1;
    try {
      this.latest = await compute.getServer(this.serverId);
    } catch (err) {
      if (!(err instanceof OpenStackError && err.kind === 'not_found')) throw err;
      this.deleted = true;
      return requests;
    }
    requests++;
    for (const record of await compute.listMigrations({ instanceId: this.serverId })) {
      this.migrations.set(record.id, record);
    }
    if (withAction) {
      requests++;
      const action = await this.findAction();
      this.actionFailure = action ? failureFromAction(action) : null;
      this.actionMissing = action === null;
    }
    return requests;
  }

  private async findAction() {
    const { compute, settings } = this.ctx;
    const requestId = this.server.requestId;
    if (requestId) {
      try {
        return await compute.getInstanceAction(this.serverId, requestId);
      } catch (err) {
        if (!(err instanceof OpenStackError && err.kind === 'not_found')) throw err;
      }
    }
    const move = this.move;
    return findAttemptAction(await compute.listInstanceActions(this.serverId), {
      serverId: this.serverId,
      action: this.kind,
      sourceHost: this.server.sourceHost,
      intentAtMs: parseNovaTime(move.intentAt) ?? 0,
      clockSkewMs: settings.clockSkewMs,
      earlierRequestIds: move.earlierRequestIds,
      earlierMigrationIds: move.earlierMigrationIds,
    });
  }

  private currentMigration(): MigrationRecord | null {
    const move = this.move;
    return pickMigration(this.migrations.values(), {
      kind: this.kind,
      sourceHost: this.server.sourceHost,
      notBeforeMs: (parseNovaTime(move.intentAt) ?? 0) - this.ctx.settings.clockSkewMs,
      earlierMigrationIds: move.earlierMigrationIds,
    });
  }

  private judge(): { verdict: MoveVerdict; migration: MigrationRecord | null } {
    const migration = this.currentMigration();
    if (this.deleted) {
      return {
        verdict: {
          verdict: 'failed',
          source: 'verification',
          message: 'The server was deleted during the move.',
          lookForEvent: false,
        },
        migration,
      };
    }
    const verdict = judgeMove({
      kind: this.kind,
      sourceHost: this.server.sourceHost,
      statusBefore: this.move.statusBefore,
      microversion: this.ctx.microversion(),
      server: this.latest,
      migration,
      confirmSent: this.move.confirmSentAt !== null,
    });
    return { verdict, migration };
  }

  evaluate(): void {
    if (this.over || this.busy || this.ctx.halted) return;
    const server = this.server;
    if (server.state === 'pending' || this.owner.isTerminal(server.state)) {
      this.stop();
      return;
    }
    this.cyclesSinceLook++;
    const { verdict, migration } = this.judge();
    this.lastVerdict = verdict.verdict;
    this.owner.noteSeen(this.serverId, describeSeen(this.latest, migration), migration?.id ?? null);

    const acceptedMs = parseNovaTime(this.move.acceptedAt ?? this.move.intentAt) ?? this.ctx.clock.now();
    const timeoutMs = this.ctx.settings.timeoutsMs[this.kind];
    if (this.ctx.clock.now() - acceptedMs > timeoutMs && verdict.verdict !== 'done') {
      this.background(() => this.timeOut(timeoutMs));
      return;
    }

    if (verdict.verdict !== 'unverified') this.unverifiedSinceMs = null;
    if (verdict.verdict !== 'idle-on-source' && verdict.verdict !== 'unseen') this.quietCycles = 0;

    switch (verdict.verdict) {
      case 'unseen':
      case 'idle-on-source':
        this.quietCycles++;
        if (verdict.verdict === 'idle-on-source') {
          if (this.actionFailure) {
            this.fail({ source: 'instance-action', message: this.actionFailure }, migration);
            return;
          }
          // A request that timed out may still be on its way through Nova's API: wait a grace period.
          const unanswered = this.ctx.clock.now() - acceptedMs;
          if (
            this.actionMissing &&
            this.move.unconfirmedRequest &&
            unanswered >= this.ctx.settings.verificationGraceMs
          ) {
            this.fail(
              {
                source: 'api',
                message: `${this.move.unconfirmedRequest}; Nova has recorded no ${INSTANCE_ACTION[this.kind]} action for the server since, so the request never reached it.`,
              },
              migration,
            );
            return;
          }
        }
        if (this.quietCycles >= this.ctx.settings.cyclesBeforeLook) this.wantLook();
        return;
      case 'moving':
        this.movingCycles++;
        this.owner.markMoving(this.serverId, migration?.id ?? null);
        return;
      case 'needs-confirm':
        this.background(() => this.sendConfirm(verdict.destinationHost, migration));
        return;
      case 'done':
        this.owner.finishMove(this.serverId, {
          state: 'done',
          destinationHost: verdict.destinationHost,
          migrationId: verdict.migrationId,
        });
        this.stop();
        return;
      case 'unverified': {
        const now = this.ctx.clock.now();
        this.unverifiedSinceMs ??= now;
        if (now - this.unverifiedSinceMs >= this.ctx.settings.verificationGraceMs && this.looks > 0) {
          this.fail(
            { source: 'verification', message: verdict.message },
            migration,
            verdict.destinationHost ?? undefined,
          );
          return;
        }
        this.wantLook();
        return;
      }
      case 'failed':
        if (verdict.lookForEvent) {
          this.background(async () => {
            const reason = await this.eventReason();
            this.fail(
              reason
                ? { source: 'instance-action', message: `${reason} (${verdict.message})` }
                : { source: verdict.source, message: verdict.message },
              migration,
            );
          });
        } else {
          this.fail({ source: verdict.source, message: verdict.message }, migration);
        }
        return;
    }
  }

  private wantLook(): void {
    if (this.looks === 0 || this.cyclesSinceLook >= this.ctx.settings.cyclesBetweenLooks)
      this.lookWanted = true;
  }

  /** Nova's reason from the instance action's events, when it has one. */
  private async eventReason(): Promise<string | null> {
    try {
      const action = await this.findAction();
      return action ? failureFromAction(action) : null;
    } catch (err) {
      this.ctx.logger.warn(
        { err, server: this.serverId },
        'could not read the instance action for a failed move',
      );
      return null;
    }
  }

  private fail(
    failure: Pick<ServerFailure, 'source' | 'message'> & Partial<ServerFailure>,
    migration: MigrationRecord | null,
    destinationHost?: string,
  ): void {
    const move = this.move;
    const aborted = move.abortRequestedBy !== null && migration?.status === 'cancelled';
    this.owner.finishMove(this.serverId, {
      state: aborted ? 'stopped' : 'failed',
      failure: {
        requestId: this.server.requestId,
        httpStatus: null,
        ...failure,
        ...(aborted
          ? {
              source: 'migration',
              message: `Live migration aborted by ${move.abortRequestedBy}; the server stayed on ${this.server.sourceHost}.`,
            }
          : {}),
      },
      migrationId: migration?.id ?? this.server.migrationId,
      destinationHost: destinationHost ?? null,
    });
    this.stop();
  }

  private async timeOut(timeoutMs: number): Promise<void> {
    try {
      await this.look(true);
    } catch (err) {
      this.ctx.logger.warn({ err, server: this.serverId }, 'final look before timing out failed');
    }
    if (this.over) return;
    const { verdict, migration } = this.judge();
    if (verdict.verdict === 'done') {
      this.owner.finishMove(this.serverId, {
        state: 'done',
        destinationHost: verdict.destinationHost,
        migrationId: verdict.migrationId,
      });
      this.stop();
      return;
    }
    if (verdict.verdict === 'failed') {
      const reason = verdict.lookForEvent ? this.actionFailure : null;
      this.fail(
        reason
          ? { source: 'instance-action', message: reason }
          : { source: verdict.source, message: verdict.message },
        migration,
      );
      return;
    }
    const minutes = Math.round(timeoutMs / 60_000);
    const span = minutes >= 1 ? `${minutes} min` : `${Math.round(timeoutMs / 1000)} s`;
    this.owner.finishMove(this.serverId, {
      state: 'timed_out',
      failure: {
        source: 'timeout',
        message: `No result after ${span}; last seen: ${describeSeen(this.latest, migration)}.`,
        requestId: this.server.requestId,
        httpStatus: null,
      },
      migrationId: migration?.id ?? this.server.migrationId,
      destinationHost: null,
    });
    this.stop();
  }

  private async sendConfirm(destinationHost: string, migration: MigrationRecord | null): Promise<void> {
    const { compute } = this.ctx;
    const attempt = this.server.attempt;
    this.owner.beginConfirm(this.serverId, destinationHost, migration?.id ?? null);
    if (this.ctx.halted) return;
    try {
      const receipt = await compute.confirmResize(this.serverId);
      this.owner.confirmResult(this.serverId, attempt, { outcome: 'accepted', requestId: receipt.requestId });
    } catch (err) {
      if (isRefusal(err)) {
        this.owner.confirmResult(this.serverId, attempt, {
          outcome: 'refused',
          requestId: err.requestId,
          error: err,
        });
        this.fail(
          { source: 'api', message: novaText(err), requestId: err.requestId, httpStatus: err.status },
          migration,
          destinationHost,
        );
        return;
      }
      const answer = await this.reconcileConfirm();
      this.owner.confirmResult(this.serverId, attempt, {
        outcome:
          answer === 'sent' ? 'reconciled-sent' : answer === 'not-sent' ? 'reconciled-not-sent' : 'unknown',
        requestId: null,
        error: err,
      });
    }
  }

  private async reconcileConfirm(): Promise<'sent' | 'not-sent' | 'unknown'> {
    const move = this.move;
    try {
      const answer = await wasSent(this.ctx.compute, {
        serverId: this.serverId,
        action: 'confirm-resize',
        sourceHost: this.server.sourceHost,
        intentAtMs: parseNovaTime(move.openIntent?.at ?? move.intentAt) ?? 0,
        clockSkewMs: this.ctx.settings.clockSkewMs,
        earlierRequestIds: move.earlierRequestIds,
        earlierMigrationIds: move.earlierMigrationIds,
      });
      return answer.sent ? 'sent' : 'not-sent';
    } catch {
      return 'unknown';
    }
  }

  /** Runs async work for this move; no other evaluation happens until it ends. */
  private background(work: () => Promise<void>): void {
    this.busy = true;
    work()
      .catch((err: unknown) => {
        if (!this.ctx.halted) this.ctx.logger.error({ err, server: this.serverId }, 'move step failed');
      })
      .finally(() => {
        this.busy = false;
      });
  }

  /** Stops tracking (the move reached a terminal state, or was handed back). */
  stop(): void {
    if (this.over) return;
    this.over = true;
    this.ctx.observer.unwatch(this.key);
    this.resolveFinished();
  }
}
