import { describe, expect, it } from 'vitest';
import {
  CLIENT_MAX_MICROVERSION,
  MicroversionError,
  coldMigrateBody,
  compareMicroversions,
  evacuateBody,
  evacuateReturnsBody,
  hypervisorDetailMicroversion,
  liveMigrateBody,
  negotiateMicroversion,
  parseMicroversion,
  parseMicroversionPin,
  serviceUpdateRequest,
} from '../../src/nova/microversion.js';

describe('microversion parsing and comparison', () => {
  it('compares numerically, not as text', () => {
    expect(compareMicroversions('2.9', '2.10')).toBeLessThan(0);
    expect(compareMicroversions('2.93', '2.100')).toBeLessThan(0);
    expect(compareMicroversions('2.53', '2.53')).toBe(0);
    expect(compareMicroversions('2.96', '2.1')).toBeGreaterThan(0);
  });

  it('rejects things that are not 2.N', () => {
    expect(() => parseMicroversion('2')).toThrow(MicroversionError);
    expect(() => parseMicroversion('3.1')).toThrow(/only 2\.x/);
    expect(() => parseMicroversion('two.five')).toThrow(/not a compute microversion/);
    expect(parseMicroversion(' 2.60 ')).toEqual({ major: 2, minor: 60 });
  });

  it('reads OS_COMPUTE_API_VERSION values', () => {
    expect(parseMicroversionPin(undefined)).toEqual({ kind: 'negotiate' });
    expect(parseMicroversionPin('')).toEqual({ kind: 'negotiate' });
    expect(parseMicroversionPin('latest')).toEqual({ kind: 'negotiate' });
    expect(parseMicroversionPin('LATEST')).toEqual({ kind: 'negotiate' });
    expect(parseMicroversionPin('2')).toEqual({ kind: 'exact', version: '2.1' });
    expect(parseMicroversionPin('2.0')).toEqual({ kind: 'exact', version: '2.1' });
    expect(parseMicroversionPin('2.60')).toEqual({ kind: 'exact', version: '2.60' });
    expect(() => parseMicroversionPin('2.x')).toThrow(MicroversionError);
  });
});

describe('negotiateMicroversion', () => {
  it('chooses the cloud max when it is below the client max (Zed lab)', () => {
    expect(negotiateMicroversion('2.1', '2.93')).toEqual({ min: '2.1', max: '2.93', chosen: '2.93' });
  });

  it('caps at the client max on newer clouds', () => {
    expect(negotiateMicroversion('2.1', '2.100')).toEqual({
      min: '2.1',
      max: '2.100',
      chosen: CLIENT_MAX_MICROVERSION,
    });
    expect(CLIENT_MAX_MICROVERSION).toBe('2.96');
  });

  it('honours a pin inside the range and refuses one outside', () => {
    expect(negotiateMicroversion('2.1', '2.93', { kind: 'exact', version: '2.60' }).chosen).toBe('2.60');
    expect(() => negotiateMicroversion('2.1', '2.93', { kind: 'exact', version: '2.95' })).toThrow(
      /2\.95 was requested but the cloud supports 2\.1 to 2\.93/,
    );
    expect(() => negotiateMicroversion('2.1', '2.100', { kind: 'exact', version: '2.99' })).toThrow(
      /this client implements up to 2\.96/,
    );
  });

  it('refuses a cloud whose minimum is above what the client knows', () => {
    expect(() => negotiateMicroversion('2.97', '2.100')).toThrow(/lowest compute microversion 2\.97/);
  });

  it('asks for hypervisor capacity below 2.88 when the cloud allows it', () => {
    expect(hypervisorDetailMicroversion({ min: '2.1', max: '2.93', chosen: '2.93' })).toBe('2.87');
    expect(hypervisorDetailMicroversion({ min: '2.1', max: '2.60', chosen: '2.60' })).toBe('2.60');
    expect(hypervisorDetailMicroversion({ min: '2.90', max: '2.96', chosen: '2.96' })).toBe('2.96');
  });
});

describe('os-migrateLive body', () => {
  it.each([
    ['2.1', undefined, { host: null, block_migration: false, disk_over_commit: false }],
    ['2.24', 'h2', { host: 'h2', block_migration: false, disk_over_commit: false }],
    ['2.25', undefined, { host: null, block_migration: 'auto' }],
    ['2.25', 'h2', { host: 'h2', block_migration: 'auto' }],
    ['2.29', 'h2', { host: 'h2', block_migration: 'auto' }],
    ['2.30', 'h2', { host: 'h2', block_migration: 'auto', force: false }],
    ['2.30', undefined, { host: null, block_migration: 'auto' }],
    ['2.67', 'h2', { host: 'h2', block_migration: 'auto', force: false }],
    ['2.68', 'h2', { host: 'h2', block_migration: 'auto' }],
    ['2.93', undefined, { host: null, block_migration: 'auto' }],
    ['2.96', 'h2', { host: 'h2', block_migration: 'auto' }],
  ])('at %s with host %s', (version, host, expected) => {
    expect(liveMigrateBody(version, host)).toEqual({ 'os-migrateLive': expected });
  });
});

describe('migrate body', () => {
  it('is null without a host at every version', () => {
    for (const version of ['2.1', '2.55', '2.56', '2.96'])
      expect(coldMigrateBody(version)).toEqual({ migrate: null });
  });

  it('names the host from 2.56 and refuses it below', () => {
    expect(coldMigrateBody('2.56', 'h3')).toEqual({ migrate: { host: 'h3' } });
    expect(coldMigrateBody('2.93', 'h3')).toEqual({ migrate: { host: 'h3' } });
    expect(() => coldMigrateBody('2.55', 'h3')).toThrow(/needs compute API 2\.56 or later \(using 2\.55\)/);
  });
});

describe('evacuate body', () => {
  it.each([
    ['2.1', undefined, { onSharedStorage: false }],
    ['2.13', 'h2', { host: 'h2', onSharedStorage: false }],
    ['2.14', undefined, {}],
    ['2.14', 'h2', { host: 'h2' }],
    ['2.28', 'h2', { host: 'h2' }],
    ['2.29', 'h2', { host: 'h2', force: false }],
    ['2.29', undefined, {}],
    ['2.67', 'h2', { host: 'h2', force: false }],
    ['2.68', 'h2', { host: 'h2' }],
    ['2.95', undefined, {}],
  ])('at %s with host %s', (version, host, expected) => {
    expect(evacuateBody(version, host)).toEqual({ evacuate: expected });
  });

  it('expects a body only below 2.14', () => {
    expect(evacuateReturnsBody('2.13')).toBe(true);
    expect(evacuateReturnsBody('2.14')).toBe(false);
  });
});

describe('compute service updates', () => {
  const service = { id: '7', host: 'host-1', binary: 'nova-compute' };
  const uuidService = { id: 'a3c1-uuid', host: 'host-1', binary: 'nova-compute' };

  it('uses PUT /os-services/{id} from 2.53', () => {
    expect(serviceUpdateRequest('2.53', uuidService, { kind: 'disable', reason: 'drain' })).toEqual({
      method: 'PUT',
      path: '/os-services/a3c1-uuid',
      body: { status: 'disabled', disabled_reason: 'drain' },
      returnsFullService: true,
    });
    expect(serviceUpdateRequest('2.93', uuidService, { kind: 'enable' }).body).toEqual({ status: 'enabled' });
    expect(serviceUpdateRequest('2.96', uuidService, { kind: 'forceDown', forcedDown: true }).body).toEqual({
      forced_down: true,
    });
  });

  it('uses the host+binary actions below 2.53', () => {
    expect(serviceUpdateRequest('2.52', service, { kind: 'disable', reason: 'drain' })).toEqual({
      method: 'PUT',
      path: '/os-services/disable-log-reason',
      body: { host: 'host-1', binary: 'nova-compute', disabled_reason: 'drain' },
      returnsFullService: false,
    });
    expect(serviceUpdateRequest('2.1', service, { kind: 'enable' })).toMatchObject({
      path: '/os-services/enable',
      body: { host: 'host-1', binary: 'nova-compute' },
    });
    expect(serviceUpdateRequest('2.11', service, { kind: 'forceDown', forcedDown: false })).toMatchObject({
      path: '/os-services/force-down',
      body: { host: 'host-1', binary: 'nova-compute', forced_down: false },
    });
  });

  it('cannot force down before 2.11', () => {
    expect(() => serviceUpdateRequest('2.10', service, { kind: 'forceDown', forcedDown: true })).toThrow(
      /needs compute API 2\.11 or later/,
    );
  });

  it('escapes the service id in the path', () => {
    expect(serviceUpdateRequest('2.60', { ...uuidService, id: 'a/b' }, { kind: 'enable' }).path).toBe(
      '/os-services/a%2Fb',
    );
  });
});
