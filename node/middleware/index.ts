// API middleware that records every request as an audit entry (docs/integrations.md, "Middleware").
export { cairnExpress, type ExpressAuditMiddleware } from './express.js';
export { cairnFastify } from './fastify.js';
export { mapRequest, requestEvent, actionOf, resourceOf, outcomeOf, type AuditEvent, type MappingOptions, type RequestInfo } from './mapping.js';
export { agentSink, peerSink, type EventSink, type SinkStats, type AgentSinkOptions, type PeerSinkOptions } from './sink.js';
export type { AuditMiddlewareOptions } from './options.js';
