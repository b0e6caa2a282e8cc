// Makes the one AWS SDK call its event names ({ client, command, input }) with the function's own
// credentials, and returns the result or the error AWS answered: the rule tests need a caller with a role.
exports.handler = async ({ client, command, input }) => {
  const mod = require(`@aws-sdk/client-${client}`);
  const Client = Object.values(mod).find((v) => typeof v === 'function' && v.name.endsWith('Client') && v.name !== 'Client');
  try {
    const out = await new Client({}).send(new mod[`${command}Command`](input));
    delete out.$metadata;
    return { ok: true, out };
  } catch (err) {
    return { ok: false, name: err.name, message: err.message, status: err.$metadata && err.$metadata.httpStatusCode };
  }
};
