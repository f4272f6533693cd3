// vitest globalSetup: starts every harness flavour once per test run and stops them at teardown.
import type { TestProject } from 'vitest/node';
import { harnessInfo, startHarness, type Harness } from './harness.js';
import './provided.js';

let harness: Harness | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  try {
    harness = await startHarness();
  } catch (err) {
    // The error message carries the tails of the failing servers' logs.
    console.error(err instanceof Error ? err.message : err);
    throw err;
  }
  project.provide('harness', harnessInfo(harness));
  const stop = async (): Promise<void> => {
    const h = harness;
    harness = undefined;
    await h?.stop();
  };
  return stop;
}
