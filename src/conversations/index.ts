export {
  type Conversation,
  createConversation,
  findConversation,
  listConversations,
  updateConversation,
} from "./conversations.ts";
export type { DestinationCheck } from "./destination-check.ts";
