/** `GET|POST /ec2/control/{instanceId}/{action}`: control links (HTTP API payload v2). See core/control.ts. */
import { httpHandler } from '../shared/handler';
import { handleControl } from './core/control';
import { endpointDeps } from './endpoint-deps';

const deps = endpointDeps('control');

export const handler = httpHandler((request) => handleControl(request, deps));
