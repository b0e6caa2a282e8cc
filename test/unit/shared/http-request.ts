/** An `HttpRequest` for core tests: what `fromHttpApiEvent` makes of an event, with only the parts a test names. */
import type { HttpRequest } from '../../../tasks/shared/http';

export function httpRequest(init: Partial<HttpRequest> = {}): HttpRequest {
  return { method: 'GET', path: '/', params: {}, query: {}, headers: {}, cookies: {}, body: '', requestId: 'req-1', ...init };
}
