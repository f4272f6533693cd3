export * from './save.js';
export * from './load.js';
export { badArchive, cleanEntryName, resolveLinkTarget } from './paths.js';
