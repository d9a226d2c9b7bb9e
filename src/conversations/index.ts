// A conversation is shown with its recordings; their SQL lives with the other recordings queries.
export { type RecordingSummary, recordingsOf } from "../recordings/store.ts";
export {
  type Conversation,
  createConversation,
  findConversation,
  type ListPosition,
  listConversations,
  type NewConversation,
} from "./conversations.ts";
export type { DestinationCheck } from "./destination-check.ts";
