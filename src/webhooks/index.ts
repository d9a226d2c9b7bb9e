export {
  eventTypes,
  recordingCopyFailedProperties,
  recordingReadyProperties,
} from "./events.ts";
export {
  type AttemptRecord,
  attemptsOf,
  enqueueEvent,
  enqueueHealthEvent,
  findEvent,
  type LoggedEvent,
  listEvents,
  pendingEventCount,
  pendingEventOf,
  resendEvent,
} from "./outbox.ts";
export { RETRY_SCHEDULE_MS } from "./schedule.ts";
export {
  listWebhookSecrets,
  rotateWebhookSecret,
} from "./secrets.ts";
export {
  createWebhookSender,
  type WebhookAttemptReport,
  type WebhookSender,
} from "./sender.ts";
export type { ResolveAll } from "./ssrf.ts";
