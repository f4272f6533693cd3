// The registry client, for the modules that use it (the transfer engine, the CLI, diagnose) and the tests.
export * from './client.js';
export { explainTlsError } from '../transport/errors.js';
