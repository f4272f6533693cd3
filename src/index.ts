// The public library API: everything the CLI does is callable from code.
export * from './errors.js';
export * from './config.js';
export * from './trace.js';
export * from './reference/index.js';
