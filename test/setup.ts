// aws-sdk-client-mock matchers (toHaveReceivedCommandWith, ...) for every test file.
import 'aws-sdk-client-mock-vitest/extend';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { afterAll } from 'vitest';

// Tests run on Node 20 on purpose; keep the SDK's Node 22 notice out of the test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// A CDK app without an outdir synthesizes into a cdk.outXXXXXX temp directory, which CDK removes on the process's
// `exit` event; vitest ends its workers without one. CDK's own advice for test runners that do so (cx-api
// CloudAssembly.cleanupTemporaryDirectories, written for Jest): call it after each test file.
afterAll(() => CloudAssembly.cleanupTemporaryDirectories());
