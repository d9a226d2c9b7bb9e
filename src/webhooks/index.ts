export {
  type EventEnvelope,
  type EventType,
  envelope,
  eventTypes,
  type RecordingCopyFailedInput,
  type RecordingCopyFailedProperties,
  type RecordingReadyInput,
  type RecordingReadyProperties,
  recordingCopyFailedProperties,
  recordingReadyProperties,
} from "./events.ts";
export {
  type AttemptRecord,
  attemptsOf,
  claimDueEvents,
  type EnqueueEventInput,
  type EnqueueResult,
  enqueueEvent,
  findEvent,
  type LoggedEvent,
  listEvents,
  resendEvent,
} from "./outbox.ts";
export {
  MAX_ATTEMPTS,
  nextEventAttempt,
  RETRY_SCHEDULE_MS,
  type RetryDecision,
} from "./schedule.ts";
export {
  listWebhookSecrets,
  type RotatedSecret,
  rotateWebhookSecret,
  type SecretInfo,
  signingSecrets,
} from "./secrets.ts";
export { createWebhookSender, type SenderDeps, type WebhookSender } from "./sender.ts";
export { generateWebhookSecret, signatureHeaders, signV1 } from "./signing.ts";
export {
  callbackUrlRefusal,
  createGuardedAgent,
  guardedLookup,
  type ResolveAll,
  type ResolvedAddress,
  type SsrfPolicy,
  systemResolveAll,
} from "./ssrf.ts";
