/**
 * Azure Storage error answers: the status, the `x-ms-error-code` header and the XML body
 * (`<Error><Code/><Message>text\nRequestId:…\nTime:…</Message>…details…</Error>`), with the
 * codes and messages the Blob service uses.
 */
import type { ServerResponse } from "node:http";
import { xmlElement, xmlEscape } from "../shared/xml.ts";

/** One Blob service refusal before it is rendered. */
export interface BlobError {
  status: number;
  code: string;
  message: string;
  /** Extra XML elements after Message, e.g. AuthenticationErrorDetail. */
  details?: Record<string, string>;
  headers?: Record<string, string>;
}

const authFailedMessage =
  "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.";
const challengeMessage =
  "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.";

/** Builders for the Blob errors the emulator produces. */
export const blobErrors = {
  noAuthentication: (challenge: string): BlobError => ({
    status: 401,
    code: "NoAuthenticationInformation",
    message: challengeMessage,
    headers: { "www-authenticate": challenge },
  }),
  invalidAuthentication: (detail: string, challenge: string): BlobError => ({
    status: 401,
    code: "InvalidAuthenticationInfo",
    message: challengeMessage,
    details: { AuthenticationErrorDetail: detail },
    headers: { "www-authenticate": challenge },
  }),
  authenticationFailed: (detail: string): BlobError => ({
    status: 403,
    code: "AuthenticationFailed",
    message: authFailedMessage,
    details: { AuthenticationErrorDetail: detail },
  }),
  keyBasedAuthNotPermitted: (): BlobError => ({
    status: 403,
    code: "KeyBasedAuthenticationNotPermitted",
    message: "Key based authentication is not permitted on this storage account.",
  }),
  permissionMismatch: (): BlobError => ({
    status: 403,
    code: "AuthorizationPermissionMismatch",
    message: "This request is not authorized to perform this operation using this permission.",
  }),
  containerNotFound: (): BlobError => ({
    status: 404,
    code: "ContainerNotFound",
    message: "The specified container does not exist.",
  }),
  containerAlreadyExists: (): BlobError => ({
    status: 409,
    code: "ContainerAlreadyExists",
    message: "The specified container already exists.",
  }),
  blobNotFound: (): BlobError => ({
    status: 404,
    code: "BlobNotFound",
    message: "The specified blob does not exist.",
  }),
  blobAlreadyExists: (): BlobError => ({
    status: 409,
    code: "BlobAlreadyExists",
    message: "The specified blob already exists.",
  }),
  conditionNotMet: (): BlobError => ({
    status: 412,
    code: "ConditionNotMet",
    message: "The condition specified using HTTP conditional header(s) is not met.",
  }),
  invalidBlockId: (): BlobError => ({
    status: 400,
    code: "InvalidBlockId",
    message: "The specified block ID is invalid. The block ID must be Base64-encoded.",
  }),
  invalidBlobOrBlock: (): BlobError => ({
    status: 400,
    code: "InvalidBlobOrBlock",
    message: "The specified blob or block content is invalid.",
  }),
  invalidBlockList: (): BlobError => ({
    status: 400,
    code: "InvalidBlockList",
    message: "The specified block list is invalid.",
  }),
  blockListTooLong: (): BlobError => ({
    status: 400,
    code: "BlockListTooLong",
    message: "The block list may not contain more than 50,000 blocks.",
  }),
  blockCountExceedsLimit: (): BlobError => ({
    status: 409,
    code: "BlockCountExceedsLimit",
    message: "The uncommitted block count cannot exceed the maximum limit of 100,000 blocks.",
  }),
  requestBodyTooLarge: (maxBytes: number): BlobError => ({
    status: 413,
    code: "RequestBodyTooLarge",
    message: "The request body is too large and exceeds the maximum permissible limit.",
    details: { MaxLimit: String(maxBytes) },
  }),
  missingContentLength: (): BlobError => ({
    status: 411,
    code: "MissingContentLengthHeader",
    message: "The Content-Length header was not specified.",
  }),
  missingHeader: (header: string): BlobError => ({
    status: 400,
    code: "MissingRequiredHeader",
    message: "An HTTP header that's mandatory for this request is not specified.",
    details: { HeaderName: header },
  }),
  invalidHeaderValue: (header: string, value: string): BlobError => ({
    status: 400,
    code: "InvalidHeaderValue",
    message: "The value for one of the HTTP headers is not in the correct format.",
    details: { HeaderName: header, HeaderValue: value },
  }),
  invalidMd5: (): BlobError => ({
    status: 400,
    code: "InvalidMd5",
    message:
      "The MD5 value specified in the request is invalid. The MD5 value must be 128 bits and Base64-encoded.",
  }),
  md5Mismatch: (userMd5: string, serverMd5: string): BlobError => ({
    status: 400,
    code: "Md5Mismatch",
    message:
      "The MD5 value specified in the request did not match with the MD5 value calculated by the server.",
    details: { UserSpecifiedMd5: userMd5, ServerCalculatedMd5: serverMd5 },
  }),
  invalidXml: (): BlobError => ({
    status: 400,
    code: "InvalidXmlDocument",
    message: "XML specified is not syntactically valid.",
  }),
  invalidRange: (size: number): BlobError => ({
    status: 416,
    code: "InvalidRange",
    message: "The range specified is invalid for the current size of the resource.",
    headers: { "content-range": `bytes */${size}` },
  }),
  missingQueryParameter: (name: string): BlobError => ({
    status: 400,
    code: "MissingRequiredQueryParameter",
    message: "A query parameter that's mandatory for this request is not specified.",
    details: { QueryParameterName: name },
  }),
  invalidQueryParameter: (name: string, value: string): BlobError => ({
    status: 400,
    code: "InvalidQueryParameterValue",
    message: "Value for one of the query parameters specified in the request URI is invalid.",
    details: { QueryParameterName: name, QueryParameterValue: value },
  }),
  unsupportedVerb: (): BlobError => ({
    status: 405,
    code: "UnsupportedHttpVerb",
    message: "The resource doesn't support specified Http Verb.",
  }),
  internalError: (): BlobError => ({
    status: 500,
    code: "InternalError",
    message: "The server encountered an internal error. Please retry the request.",
  }),
  serverBusy: (): BlobError => ({
    status: 503,
    code: "ServerBusy",
    message: "The server is busy.",
  }),
} as const;

/** Writes the error with Azure's headers; HEAD answers carry no body, as in Azure. */
export function writeBlobError(
  res: ServerResponse,
  err: BlobError,
  requestId: string,
  headOnly: boolean,
  nowMs: number,
): void {
  const time = new Date(nowMs).toISOString().replace(/\.(\d{3})Z$/, ".$10000Z");
  const details = Object.entries(err.details ?? {})
    .map(([k, v]) => xmlElement(k, v))
    .join("");
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}\nRequestId:${requestId}\nTime:${time}</Message>${details}</Error>`;
  res.writeHead(err.status, {
    "content-type": "application/xml",
    "content-length": headOnly ? 0 : Buffer.byteLength(body),
    "x-ms-error-code": err.code,
    "x-ms-request-id": requestId,
    ...err.headers,
  });
  res.end(headOnly ? undefined : body);
}
