/**
 * One click at a time per run: two people (or one impatient double click) acting on the same run
 * are handled one after the other, so the second sees what the first did instead of racing it.
 */
import pLimit, { type LimitFunction } from 'p-limit';

export class KeyedLock {
  private readonly limits = new Map<string, LimitFunction>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let limit = this.limits.get(key);
    if (limit === undefined) {
      limit = pLimit(1);
      this.limits.set(key, limit);
    }
    try {
      return await limit(task);
    } finally {
      if (limit.activeCount === 0 && limit.pendingCount === 0) this.limits.delete(key);
    }
  }
}
