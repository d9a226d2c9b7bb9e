/** What an Azure customer's federated credential trusts (docs/security.md). */

/** Audience of tokens for Azure federated credentials (a fixed value Entra requires). */
export const AZURE_TOKEN_AUDIENCE = "api://AzureADTokenExchange";
