export {
  type Conversation,
  createConversation,
  findConversation,
  type ListPosition,
  listConversations,
  type NewConversation,
  type RecordingSummary,
  recordingsOf,
} from "./conversations.ts";
export type { DestinationCheck } from "./destination-check.ts";
