export { createNode } from './node.js';
export type { NodeDeps, TriadNode } from './node.js';
