export {
  type Conversation,
  createConversation,
  findConversation,
  listConversations,
} from "./conversations.ts";
export type { DestinationCheck } from "./destination-check.ts";
