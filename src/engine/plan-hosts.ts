/**
 * "Did you mean ...?" for compute host names. Typing a host name at 3 am goes wrong in a few
 * predictable ways: a transposed or missing character (`hots-1`, `host1`), the wrong case, or a
 * short name where Nova knows the FQDN (or the reverse). Host names are still matched exactly
 * elsewhere; this only ranks the names worth offering back.
 */
import { distance } from 'fastest-levenshtein';

const naturalOrder = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Case and `-`/`_` separators are the cheapest typos to make and the least informative to count. */
function canonical(name: string): string {
  return name.toLowerCase().replace(/[-_\s]/g, '');
}

function commonPrefixLength(a: string, b: string): number {
  const limit = Math.min(a.length, b.length);
  let i = 0;
  while (i < limit && a[i] === b[i]) i++;
  return i;
}

/** One name is the other's short host name (`cmp-12` vs `cmp-12.dc1.example.net`). */
function sameShortName(a: string, b: string): boolean {
  return a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
}

interface Candidate {
  name: string;
  /** 0: same but for case/separators, 1: short name vs FQDN, 2: close spelling or shared prefix. */
  tier: number;
  editDistance: number;
  prefix: number;
}

/**
 * Up to `max` known host names nearest to `name`, best first; empty when nothing is close.
 * Close means: equal ignoring case and `-`/`_`, a short-name/FQDN pair, an edit distance within
 * a third of the typed length (at least 1, at most 3), or a shared prefix of at least half the
 * typed name (and 4 characters).
 */
export function suggestHosts(name: string, known: string[], max = 3): string[] {
  if (!Number.isInteger(max) || max < 0) {
    throw new RangeError(`suggestHosts: max must be a whole number of at least 0 (got ${String(max)}).`);
  }
  const typed = name.trim().toLowerCase();
  if (typed === '' || max === 0) return [];
  const typedCanonical = canonical(typed);
  const allowedDistance = Math.max(1, Math.min(3, Math.floor(typed.length / 3)));
  const minimumPrefix = Math.max(4, Math.ceil(typed.length / 2));

  const candidates: Candidate[] = [];
  for (const host of new Set(known)) {
    const lower = host.toLowerCase();
    const editDistance = distance(typed, lower);
    const prefix = commonPrefixLength(typed, lower);
    let tier: number;
    if (canonical(lower) === typedCanonical) tier = 0;
    else if (sameShortName(typed, lower)) tier = 1;
    else if (editDistance <= allowedDistance || prefix >= minimumPrefix) tier = 2;
    else continue;
    candidates.push({ name: host, tier, editDistance, prefix });
  }

  candidates.sort(
    (a, b) =>
      a.tier - b.tier ||
      a.editDistance - b.editDistance ||
      b.prefix - a.prefix ||
      naturalOrder.compare(a.name, b.name),
  );
  return candidates.slice(0, max).map((c) => c.name);
}

/** Sorts host names the way people count them: host-2 before host-10. */
export function sortHostNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => naturalOrder.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0));
}
