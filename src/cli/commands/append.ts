import { DheError } from '../../errors.js';
import type { CommandContext } from '../context.js';

export async function run(_ctx: CommandContext, ..._args: unknown[]): Promise<number> {
  throw new DheError('NOT_IMPLEMENTED', "'append' is not implemented yet");
}
