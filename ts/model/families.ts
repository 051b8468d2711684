// The model families this server knows, and how a model's inputs name its family. Apart from
// family.ts, which says what a family is, so that the families themselves can import that.
import type { ModelFamily } from './family.js';
import { smartTurnV2 } from './v2.js';
import { smartTurnV3 } from './v3.js';

export const FAMILIES: readonly ModelFamily[] = [smartTurnV2, smartTurnV3];

/** The family whose input names a model declares; undefined if none matches. */
export function familyForInputs(names: readonly string[]): ModelFamily | undefined {
  return FAMILIES.find((f) => f.inputs.length === names.length && f.inputs.every((i) => names.includes(i.name)));
}
