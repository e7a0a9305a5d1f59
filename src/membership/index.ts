export { PeerSet } from './peer-set.js';
export type { PeerSetOptions, PeerView } from './peer-set.js';
