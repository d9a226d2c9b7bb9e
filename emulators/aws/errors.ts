import { xmlElement } from "./xml.ts";

/** An error answered the way AWS answers it: HTTP status, code, message and extra XML fields. */
export class AwsError extends Error {
  readonly status: number;
  readonly code: string;
  /** Extra child elements of `<Error>` (S3) in order, e.g. `BucketName`, `Region`. */
  readonly fields: ReadonlyArray<readonly [string, string]>;
  /** Extra response headers, e.g. `x-amz-bucket-region`. */
  readonly headers: Readonly<Record<string, string>>;
  /** STS only: `Sender` or `Receiver`. */
  readonly senderFault: boolean;

  constructor(
    status: number,
    code: string,
    message: string,
    options: {
      fields?: ReadonlyArray<readonly [string, string]>;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "AwsError";
    this.status = status;
    this.code = code;
    this.fields = options.fields ?? [];
    this.headers = options.headers ?? {};
    this.senderFault = status < 500;
  }
}

/** Renders the S3 `<Error>` document. */
export function s3ErrorBody(error: AwsError, requestId: string, resource?: string): string {
  const parts = [xmlElement("Code", error.code), xmlElement("Message", error.message)];
  for (const [name, value] of error.fields) parts.push(xmlElement(name, value));
  if (resource !== undefined) parts.push(xmlElement("Resource", resource));
  parts.push(xmlElement("RequestId", requestId), xmlElement("HostId", hostId(requestId)));
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${parts.join("")}</Error>`;
}

/** Renders the STS (query protocol) `<ErrorResponse>` document. */
export function stsErrorBody(error: AwsError, requestId: string): string {
  const type = error.senderFault ? "Sender" : "Receiver";
  return (
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">` +
    `<Error>${xmlElement("Type", type)}${xmlElement("Code", error.code)}${xmlElement("Message", error.message)}</Error>` +
    `${xmlElement("RequestId", requestId)}</ErrorResponse>\n`
  );
}

function hostId(requestId: string): string {
  return Buffer.from(`emulator/${requestId}`).toString("base64");
}

/** S3 error catalogue: status, code and the texts S3 answers with. */
export const s3Errors = {
  accessDenied: (message = "Access Denied") => new AwsError(403, "AccessDenied", message),
  noSuchBucket: (bucket: string) =>
    new AwsError(404, "NoSuchBucket", "The specified bucket does not exist", {
      fields: [["BucketName", bucket]],
    }),
  noSuchKey: (key: string) =>
    new AwsError(404, "NoSuchKey", "The specified key does not exist.", { fields: [["Key", key]] }),
  invalidAccessKeyId: (accessKeyId: string) =>
    new AwsError(
      403,
      "InvalidAccessKeyId",
      "The AWS Access Key Id you provided does not exist in our records.",
      { fields: [["AWSAccessKeyId", accessKeyId]] },
    ),
  invalidToken: () =>
    new AwsError(400, "InvalidToken", "The provided token is malformed or otherwise invalid."),
  expiredToken: (token: string) =>
    new AwsError(400, "ExpiredToken", "The provided token has expired.", {
      fields: [["Token-0", token]],
    }),
  signatureDoesNotMatch: (
    accessKeyId: string,
    stringToSign: string,
    signatureProvided: string,
    canonicalRequest: string,
  ) =>
    new AwsError(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
      {
        fields: [
          ["AWSAccessKeyId", accessKeyId],
          ["StringToSign", stringToSign],
          ["SignatureProvided", signatureProvided],
          ["CanonicalRequest", canonicalRequest],
        ],
      },
    ),
  authorizationHeaderMalformed: (message: string, region?: string) =>
    new AwsError(
      400,
      "AuthorizationHeaderMalformed",
      `The authorization header is malformed; ${message}`,
      region === undefined
        ? {}
        : { fields: [["Region", region]], headers: { "x-amz-bucket-region": region } },
    ),
  permanentRedirect: (bucket: string, region: string) =>
    new AwsError(
      301,
      "PermanentRedirect",
      "The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.",
      {
        fields: [
          ["Endpoint", `${bucket}.s3.${region}.amazonaws.com`],
          ["Bucket", bucket],
        ],
        headers: { "x-amz-bucket-region": region },
      },
    ),
  requestTimeTooSkewed: (requestTime: string, serverTime: string) =>
    new AwsError(
      403,
      "RequestTimeTooSkewed",
      "The difference between the request time and the current time is too large.",
      {
        fields: [
          ["RequestTime", requestTime],
          ["ServerTime", serverTime],
          ["MaxAllowedSkewMilliseconds", "900000"],
        ],
      },
    ),
  requestExpired: () => new AwsError(403, "AccessDenied", "Request has expired"),
  missingSecurityHeader: (header: string) =>
    new AwsError(400, "InvalidRequest", `Missing required header for this request: ${header}`),
  invalidRequest: (message: string) => new AwsError(400, "InvalidRequest", message),
  invalidArgument: (message: string, name: string, value: string) =>
    new AwsError(400, "InvalidArgument", message, {
      fields: [
        ["ArgumentName", name],
        ["ArgumentValue", value],
      ],
    }),
  contentSha256Mismatch: (clientHash: string, serverHash: string) =>
    new AwsError(
      400,
      "XAmzContentSHA256Mismatch",
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
      {
        fields: [
          ["ClientComputedContentSHA256", clientHash],
          ["S3ComputedContentSHA256", serverHash],
        ],
      },
    ),
  badDigestMd5: () =>
    new AwsError(
      400,
      "BadDigest",
      "The Content-MD5 you specified did not match what was received.",
    ),
  invalidDigest: () =>
    new AwsError(400, "InvalidDigest", "The Content-MD5 you specified was invalid."),
  badDigestChecksum: (algorithm: string) =>
    new AwsError(
      400,
      "BadDigest",
      `The ${algorithm} you specified did not match the calculated checksum.`,
    ),
  incompleteBody: () =>
    new AwsError(
      400,
      "IncompleteBody",
      "You did not provide the number of bytes specified by the Content-Length HTTP header",
    ),
  missingContentLength: () =>
    new AwsError(411, "MissingContentLength", "You must provide the Content-Length HTTP header."),
  entityTooLarge: (size: number, max: number) =>
    new AwsError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", {
      fields: [
        ["ProposedSize", String(size)],
        ["MaxSizeAllowed", String(max)],
      ],
    }),
  entityTooSmall: (size: number, min: number, partNumber: number, etag: string) =>
    new AwsError(
      400,
      "EntityTooSmall",
      "Your proposed upload is smaller than the minimum allowed object size.",
      {
        fields: [
          ["ProposedSize", String(size)],
          ["MinSizeAllowed", String(min)],
          ["PartNumber", String(partNumber)],
          ["ETag", etag],
        ],
      },
    ),
  invalidPart: (uploadId: string, partNumber: number, etag: string) =>
    new AwsError(
      400,
      "InvalidPart",
      "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
      {
        fields: [
          ["UploadId", uploadId],
          ["PartNumber", String(partNumber)],
          ["ETag", etag],
        ],
      },
    ),
  invalidPartOrder: (uploadId: string) =>
    new AwsError(
      400,
      "InvalidPartOrder",
      "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
      { fields: [["UploadId", uploadId]] },
    ),
  noSuchUpload: (uploadId: string) =>
    new AwsError(
      404,
      "NoSuchUpload",
      "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
      { fields: [["UploadId", uploadId]] },
    ),
  malformedXml: () =>
    new AwsError(
      400,
      "MalformedXML",
      "The XML you provided was not well-formed or did not validate against our published schema",
    ),
  invalidRange: (size: number, range: string) =>
    new AwsError(416, "InvalidRange", "The requested range is not satisfiable", {
      fields: [
        ["RangeRequested", range],
        ["ActualObjectSize", String(size)],
      ],
    }),
  preconditionFailed: (condition: string) =>
    new AwsError(
      412,
      "PreconditionFailed",
      "At least one of the pre-conditions you specified did not hold",
      {
        fields: [["Condition", condition]],
      },
    ),
  notImplemented: () =>
    new AwsError(
      501,
      "NotImplemented",
      "A header you provided implies functionality that is not implemented",
    ),
  methodNotAllowed: (method: string) =>
    new AwsError(
      405,
      "MethodNotAllowed",
      "The specified method is not allowed against this resource.",
      {
        fields: [["Method", method]],
      },
    ),
  internalError: () =>
    new AwsError(500, "InternalError", "We encountered an internal error. Please try again."),
  slowDown: () => new AwsError(503, "SlowDown", "Please reduce your request rate."),
} as const;

/** STS error catalogue (query protocol). */
export const stsErrors = {
  accessDenied: (callerArn: string, action: string, roleArn: string) =>
    new AwsError(
      403,
      "AccessDenied",
      `User: ${callerArn} is not authorized to perform: ${action} on resource: ${roleArn}`,
    ),
  validation: (message: string) => new AwsError(400, "ValidationError", message),
  invalidClientTokenId: () =>
    new AwsError(
      403,
      "InvalidClientTokenId",
      "The security token included in the request is invalid.",
    ),
  expiredToken: () =>
    new AwsError(403, "ExpiredToken", "The security token included in the request is expired"),
  signatureDoesNotMatch: () =>
    new AwsError(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    ),
  incompleteSignature: (message: string) => new AwsError(400, "IncompleteSignature", message),
  missingAuthenticationToken: () =>
    new AwsError(403, "MissingAuthenticationToken", "Request is missing Authentication Token"),
  signatureExpired: (message: string) => new AwsError(403, "SignatureDoesNotMatch", message),
  invalidAction: (action: string) =>
    new AwsError(400, "InvalidAction", `Could not find operation ${action} for version 2011-06-15`),
  internalFailure: () =>
    new AwsError(
      500,
      "InternalFailure",
      "The request processing has failed because of an unknown error, exception or failure.",
    ),
  throttling: () => new AwsError(400, "Throttling", "Rate exceeded"),
  /** AssumeRoleWithWebIdentity: the token, its issuer or its audience is not acceptable. */
  invalidIdentityToken: (message: string) => new AwsError(400, "InvalidIdentityToken", message),
  /** AssumeRoleWithWebIdentity: the token's `exp` has passed (AWS's text has no space before the second time). */
  expiredWebIdentityToken: (nowSeconds: number, expSeconds: number) =>
    new AwsError(
      400,
      "ExpiredTokenException",
      `Token expired: current date/time ${nowSeconds} must be before the expiration date/time${expSeconds}`,
    ),
  /** AssumeRoleWithWebIdentity: the issuer's discovery document or JWKS could not be reached. */
  idpCommunicationError: () =>
    new AwsError(
      400,
      "IDPCommunicationError",
      "The request could not be fulfilled because the identity provider (IDP) that was asked to verify the incoming identity token could not be reached. This is often a transient error caused by network conditions. Retry the request a limited number of times and wait between attempts. If the error persists, the identity provider might be down or not responding.",
    ),
  /** AssumeRoleWithWebIdentity: no trust statement lets this token's provider and claims in. */
  webIdentityAccessDenied: () =>
    new AwsError(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"),
} as const;
