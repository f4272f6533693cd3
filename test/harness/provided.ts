// Types what the global setup provides to tests (`inject('harness')`).
import type { HarnessInfo } from './types.js';

declare module 'vitest' {
  export interface ProvidedContext {
    harness: HarnessInfo;
  }
}

export {};
