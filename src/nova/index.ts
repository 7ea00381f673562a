/**
 * The OpenStack compute client, as the rest of the app uses it:
 *
 *   const client = createComputeClient(loadCredentials(), { logger });
 *   const service = await client.findComputeService('host-12');
 *   ...
 *   client.close();
 */
export {
  createComputeClient,
  NovaComputeClient,
  DEFAULT_PAGE_SIZE,
  DEFAULT_CHANGES_BACKDATE_MS,
  type ComputeClientOptions,
} from './compute-client.js';
export {
  loadCredentials,
  parseCredentials,
  configSearchDirs,
  configFileCandidates,
  OpenStackCredentialsSchema,
  type OpenStackCredentials,
  type OpenStackCredentialsInput,
  type LoadCredentialsOptions,
} from './credentials.js';
export { OpenStackError, CredentialsError, kindForStatus, type OpenStackErrorKind } from './errors.js';
export { DEFAULT_RETRY_POLICY, DEFAULT_TIMEOUT_MS, type RetryPolicy } from './http.js';
export { CLIENT_MAX_MICROVERSION, MicroversionError } from './microversion.js';
export type * from './types.js';
