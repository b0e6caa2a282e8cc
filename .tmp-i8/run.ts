import { startRuntime } from '/work/wt-i8-rules/test/e2e/harness';
import { readFileSync, readdirSync } from 'node:fs';
(async () => {
  const h = await startRuntime({ log: (l) => console.log('LOG', l) } as never);
  const input = JSON.parse(readFileSync('/work/wt-i8-rules/workflows/examples/approval.json', 'utf8'));
  const arn = await h.start('Approval', input);
  await new Promise((r) => setTimeout(r, 8000));
  const hist = await (await import('/work/wt-i8-rules/node_modules/@aws-sdk/client-sfn/dist-cjs/index.js')).GetExecutionHistoryCommand;
  const { events } = await h.sfn.send(new hist({ executionArn: arn }));
  for (const e of events ?? []) console.log(e.type, JSON.stringify(Object.values(e).find((v) => v && typeof v === 'object' && !('getTime' in v)) ?? '').slice(0, 400));
  for (const f of readdirSync(h.stateDir + '/logs')) { const t = readFileSync(h.stateDir + '/logs/' + f, 'utf8'); if (/not authorized|Denied|Error/i.test(t)) console.log(f, t.split('\n').filter((l) => /authorized|Denied|Error/.test(l)).slice(0, 5).join('\n')); }
  await h.stop();
})();
