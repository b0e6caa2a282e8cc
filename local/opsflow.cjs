#!/usr/bin/env node
// The `opsflow` bin: registers tsx so the TypeScript CLI runs without a build step.
require('tsx/cjs');
require('./cli.ts');
