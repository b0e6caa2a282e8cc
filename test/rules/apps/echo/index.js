// The smallest Lambda handler: the rule tests need a function, not what it does.
exports.handler = async (event) => event;
