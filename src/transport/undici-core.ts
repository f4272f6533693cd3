// The parts of undici a registry client needs, without its package entry: `import 'undici'` loads all of undici
// (fetch, WebSocket, mocks, caches, interceptors; ~55 ms of every start-up here), while an Agent and request() are
// two modules (~23 ms). The ProxyAgent comes with the whole package, and only when a proxy is used: its CONNECT
// calls the API methods the entry adds to Dispatcher.prototype. test/unit/transport.test.ts checks that these
// modules are the ones the entry exports, so an undici update that moves them fails there, not in use.

import type { Agent as AgentClass, Dispatcher, ProxyAgent as ProxyAgentClass } from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import apiRequest from 'undici/lib/api/api-request.js';

export function newAgent(opts: AgentClass.Options): Dispatcher {
  return new Agent(opts);
}

export async function newProxyAgent(opts: ProxyAgentClass.Options): Promise<Dispatcher> {
  const { ProxyAgent } = await import('undici');
  return new ProxyAgent(opts);
}

/** undici's request() on a given dispatcher (the entry's version takes the URL apart the same way). */
export function request(dispatcher: Dispatcher, url: URL, opts: Omit<Dispatcher.RequestOptions, 'origin' | 'path'>): Promise<Dispatcher.ResponseData> {
  return apiRequest.call(dispatcher, { ...opts, origin: url.origin, path: `${url.pathname}${url.search}` });
}
