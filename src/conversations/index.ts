export {
  type Conversation,
  createConversation,
  findConversation,
  listConversations,
  type RecordingSummary,
  recordingsOf,
} from "./conversations.ts";
export type { DestinationCheck } from "./destination-check.ts";
