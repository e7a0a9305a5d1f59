import {
  createDesiredStateVersionStore,
  type DesiredStateVersionStore,
  type VersionRow as StoredVersion,
} from '../storage/index.js';
import { emptyState, normaliseState, type DesiredState } from './desired-state.js';

/** One desired-state version as the layer manager reads it: its state made whole for the current cluster. */
export type VersionRow = StoredVersion<DesiredState>;
export type DesiredStateStore = DesiredStateVersionStore<DesiredState>;

/** desired_state_versions for this cluster's members: an instance added since a version was written has all off. */
export function createDesiredStateStore(members: readonly string[]): DesiredStateStore {
  return createDesiredStateVersionStore({
    decode: (raw) => normaliseState(raw, members),
    initial: () => emptyState(members),
  });
}
