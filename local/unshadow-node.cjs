// npm's postinstall for this project. npm links the bins of every installed package into node_modules/.bin, which
// `npm run`, `npm start`, `npm test` and `npx` put first on PATH. The optional dependency node-linux-<arch> (the
// Node.js 22 that the local Lambda functions run on, as AWS's nodejs22.x does) names its binary `node`: left linked,
// it would silently replace the Node.js you run the project with in every npm script. The runtime finds that
// binary through its package (local/services/lambda.ts nodeForRuntime), not through PATH.
const { lstatSync, readlinkSync, unlinkSync } = require('node:fs');
const { join } = require('node:path');

const link = join(__dirname, '..', 'node_modules', '.bin', 'node');
try {
  if (lstatSync(link).isSymbolicLink() && /node-linux-[^/\\]+[/\\]bin[/\\]node$/.test(readlinkSync(link))) unlinkSync(link);
} catch {
  // no link: nothing to do
}
