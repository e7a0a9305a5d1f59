#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ (npm ci runs `prepare`, which builds it) so start-up skips TypeScript.
import { main } from '../dist/cli/main.js';

main();
