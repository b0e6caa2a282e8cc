/**
 * The internet as the local runtime's functions see it: outbound HTTP from a function that is not a call to the
 * runtime's AWS endpoint leaves through the network model (local/network/, which decides whether the function can reach the
 * internet at all, and from which address) and is answered here by the stand-in that serves the host: the local
 * chat server for Slack, Mattermost and Teams, or nothing (no such host).
 */

/** One outbound request, as it left the function. */
export interface OutboundRequest {
  method: string;
  /** The URL the function asked for (`https://slack.com/api/chat.postMessage`). */
  url: URL;
  /** Header names lower-case. */
  headers: Record<string, string>;
  body: Buffer;
  /** Who sent it and the public address it leaves from (an Elastic IP, or "a changing AWS address"). */
  from: { functionName: string; sourceIp: string };
}

export interface OutboundResponse {
  status: number;
  /** Header names lower-case. */
  headers: Record<string, string>;
  body: Buffer | string;
}

/** A stand-in for the servers behind some hosts. */
export interface InternetHost {
  /** Whether this stand-in answers for `host` (lower-case, no port). */
  serves(host: string): boolean;
  handle(request: OutboundRequest): Promise<OutboundResponse>;
}

/** The stand-ins the runtime has; a host none serves does not exist (the function's lookup fails, ENOTFOUND). */
export class Internet {
  private readonly hosts: InternetHost[] = [];

  add(host: InternetHost): void {
    this.hosts.push(host);
  }

  find(host: string): InternetHost | undefined {
    const name = host.toLowerCase();
    return this.hosts.find((h) => h.serves(name));
  }
}
