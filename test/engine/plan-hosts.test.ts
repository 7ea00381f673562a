import { describe, expect, it } from 'vitest';
import { suggestHosts } from '../../src/engine/plan.js';

const HOSTS = [
  'host-1',
  'host-2',
  'host-3',
  'host-10',
  'host-11',
  'compute1',
  'compute2',
  'db-7.dc1.example.net',
];

describe('suggestHosts', () => {
  it('offers the intended host first for a transposition', () => {
    expect(suggestHosts('hots-1', HOSTS)[0]).toBe('host-1');
  });

  it('treats a missing separator or a different case as the closest match', () => {
    expect(suggestHosts('host1', HOSTS)[0]).toBe('host-1');
    expect(suggestHosts('HOST-2', HOSTS)[0]).toBe('host-2');
    expect(suggestHosts('host_10', HOSTS)[0]).toBe('host-10');
  });

  it('pairs a short host name with its FQDN', () => {
    expect(suggestHosts('db-7', HOSTS)).toEqual(['db-7.dc1.example.net']);
    expect(suggestHosts('host-3.dc1.example.net', HOSTS)[0]).toBe('host-3');
  });

  it('offers names sharing a prefix, in natural order', () => {
    expect(suggestHosts('compute', HOSTS)).toEqual(['compute1', 'compute2']);
  });

  it('ranks the nearest names first and ties naturally (host-2 before host-10)', () => {
    expect(suggestHosts('host-12', HOSTS)).toEqual(['host-1', 'host-10', 'host-11']);
  });

  it('returns nothing for a name far from every host', () => {
    expect(suggestHosts('zebra', HOSTS)).toEqual([]);
    expect(suggestHosts('', HOSTS)).toEqual([]);
    expect(suggestHosts('host-1', [])).toEqual([]);
  });

  it('respects max and ignores duplicate known names', () => {
    expect(suggestHosts('host-4', HOSTS, 2)).toEqual(['host-1', 'host-2']);
    expect(suggestHosts('host-4', ['host-1', 'host-1'], 5)).toEqual(['host-1']);
    expect(suggestHosts('host-4', HOSTS, 0)).toEqual([]);
  });

  it('rejects a nonsensical max', () => {
    expect(() => suggestHosts('host-1', HOSTS, -1)).toThrow(/max must be a whole number/);
    expect(() => suggestHosts('host-1', HOSTS, Number.NaN)).toThrow(/max must be a whole number/);
  });
});
