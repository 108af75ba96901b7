import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * @hubspot/api-client 13.x sends through node-fetch 2 without any timeout, so a HubSpot that stops answering
 * would hold a card request until HubSpot's own 15 s hubspot.fetch limit. Node's agent `timeout` only emits an
 * event; this agent destroys the socket instead, which node-fetch reports as a network failure
 * (code ETIMEDOUT) that the scheduler retries or gives up on.
 */
export function createTimeoutAgent(baseUrl: string, timeoutMs: number): http.Agent {
  const Base = new URL(baseUrl).protocol === 'https:' ? https.Agent : http.Agent;
  class TimeoutAgent extends Base {
    override createConnection(...args: Parameters<http.Agent['createConnection']>): Duplex {
      const socket = super.createConnection(...args) as unknown as Socket;
      socket.setTimeout(timeoutMs);
      socket.on('timeout', () => {
        socket.destroy(Object.assign(new Error(`HubSpot did not answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
      return socket;
    }
  }
  // Idle keep-alive sockets get the same timeout from the agent itself, so a reused socket keeps the limit.
  return new TimeoutAgent({ keepAlive: true, timeout: timeoutMs });
}
