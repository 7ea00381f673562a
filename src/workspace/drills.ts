/**
 * Drills that go through Nova itself rather than the simulator's back door: forcing a compute
 * service down is what an operator does after fencing a host (`openstack compute service set
 * --down`), so the drill panel does it with the bot's own compute client.
 */
import type { ComputeApi } from '../nova/types.js';

export function forcedDownThroughNova(
  compute: ComputeApi,
): (host: string, forcedDown: boolean) => Promise<void> {
  return async (host, forcedDown) => {
    const service = await compute.findComputeService(host);
    if (!service) throw new Error(`No nova-compute service on host "${host}"`);
    await compute.setForcedDown(service, forcedDown);
  };
}
