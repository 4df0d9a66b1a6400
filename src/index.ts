export { createProxy } from './proxy.js';
export type { ProxyHandle, ProxyOptions, RecordOptions, ShutdownReport, UpstreamOptions } from './proxy.js';
export { McpscopeError, JsonRpcCode, toJsonRpcError } from './jsonrpc/errors.js';
export type { ErrorCode, JsonRpcErrorObject, JsonRpcId } from './jsonrpc/errors.js';
export {
  errorFrame,
  parseFrame,
  withMessage,
  LineSplitter,
  DEFAULT_MAX_MESSAGE_BYTES,
} from './jsonrpc/framing.js';
export type { Frame, MessageKind, PendingRequest } from './jsonrpc/framing.js';
export { Pipeline } from './pipeline/pipeline.js';
export { DEFAULT_HOLD_TIMEOUT_MS, DEFAULT_MAX_HELD } from './pipeline/refusal.js';
export type { PipelineHooks, PipelineOptions } from './pipeline/pipeline.js';
export { FORWARD } from './pipeline/stage.js';
export type { Direction, ObserverStage, Stage, TransformerStage, Verdict } from './pipeline/stage.js';
export { Session } from './session/session.js';
export { SessionManager } from './session/sessionManager.js';
export { LogMessagesStage } from './stages/logMessages.js';
export { RateLimitStage } from './stages/rateLimitStage.js';
export type { ClientKey, RateLimitOptions } from './stages/rateLimitStage.js';
export { BreakerStage } from './stages/breakerStage.js';
export type { BreakerRouting } from './stages/breakerStage.js';
export type { GatewayOptions } from './gateway/gateway.js';
export type { GatewayConfig, UpstreamConfig } from './gateway/config.js';
export { authSchema, loadAuthOptions } from './auth/options.js';
export type { AuthInput, AuthOptions } from './auth/options.js';
export type { Principal } from './auth/principal.js';
export { CircuitBreaker } from './resilience/circuitBreaker.js';
export type { BreakerState, CircuitBreakerOptions } from './resilience/circuitBreaker.js';
export { TokenBucket, parseRate } from './resilience/tokenBucket.js';
export type { RateSpec } from './resilience/tokenBucket.js';
export { createLogger } from './log.js';
export { SUPPORTED_PROTOCOL_VERSIONS } from './protocol.js';
