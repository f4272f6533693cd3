export * from './store.js';
export * from './digest.js';
export { withFileLock, pidAlive } from './lock.js';
export * from './types.js';
