import { z } from "zod";
import { isLoopbackUrl } from "../shared/oidc-keys.ts";

const MiB = 1024 * 1024;

/** IAM actions the S3 emulator authorises (the S3 actions the relay and common clients need). */
export const S3_ACTIONS = [
  "s3:PutObject",
  "s3:GetObject",
  "s3:DeleteObject",
  "s3:ListBucket",
  "s3:AbortMultipartUpload",
  "s3:ListMultipartUploadParts",
  "s3:ListBucketMultipartUploads",
  "s3:GetBucketLocation",
] as const;
/** One of {@link S3_ACTIONS}. */
export type S3Action = (typeof S3_ACTIONS)[number];

const userArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:user\/[\w+=,.@/-]+$/, "IAM user ARN");
const sessionArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\/[\w+=,.@-]+\/[\w+=,.@-]+$/,
    "assumed-role session ARN",
  );
const roleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, "IAM role ARN");
const stringOrList = z.union([z.string(), z.array(z.string()).min(1)]);

/** Grants S3 actions on a bucket, optionally only under a key prefix. */
export const s3PermissionSchema = z.strictObject({
  bucket: z.string().min(1),
  /** Keys must start with this; `ListBucket` needs a `prefix` parameter that starts with it. */
  prefix: z.string().optional(),
  actions: z.array(z.union([z.enum(S3_ACTIONS), z.literal("s3:*")])).min(1),
});
/** See {@link s3PermissionSchema}. */
export type S3Permission = z.infer<typeof s3PermissionSchema>;

const trustStatementSchema = z.strictObject({
  Sid: z.string().optional(),
  Effect: z.enum(["Allow", "Deny"]),
  /** `AWS`: IAM principals (AssumeRole); `Federated`: IAM OIDC provider ARNs (AssumeRoleWithWebIdentity). */
  Principal: z.union([
    z.literal("*"),
    z
      .strictObject({ AWS: stringOrList.optional(), Federated: stringOrList.optional() })
      .refine(
        (p) => p.AWS !== undefined || p.Federated !== undefined,
        "Principal needs AWS or Federated",
      ),
  ]),
  Action: stringOrList,
  /** Condition operators supported: StringEquals, StringLike (`*`/`?` wildcards). */
  Condition: z
    .strictObject({
      StringEquals: z.record(z.string(), stringOrList).optional(),
      StringLike: z.record(z.string(), stringOrList).optional(),
    })
    .optional(),
});

/** An IAM role trust policy document (the subset AssumeRole* trust evaluation needs). */
export const trustPolicySchema = z.strictObject({
  Version: z.string().optional(),
  Statement: z.array(trustStatementSchema).min(1),
});
/** See {@link trustPolicySchema}. */
export type TrustPolicy = z.infer<typeof trustPolicySchema>;

/** A customer role: trust policy, maximum session and the S3 permissions its sessions get. */
export const roleSchema = z.strictObject({
  arn: roleArn,
  /** IAM allows 3600–43200; AWS's default is 3600. */
  maxSessionDurationSeconds: z.number().int().min(3600).max(43_200).default(3600),
  trustPolicy: trustPolicySchema,
  permissions: z.array(s3PermissionSchema).default([]),
});
/** See {@link roleSchema}. */
export type RoleConfig = z.infer<typeof roleSchema>;

/** A caller with long-term keys (an IAM user, `AKIA…`). */
const userIdentitySchema = z.strictObject({
  arn: userArn,
  accessKeyId: z.string().min(16),
  secretAccessKey: z.string().min(1),
  permissions: z.array(s3PermissionSchema).default([]),
});

/**
 * A caller that is itself a role session (`ASIA…` + session token), e.g. an ECS task or IRSA
 * pod: its AssumeRole calls are role chaining, capped at one hour.
 */
const sessionIdentitySchema = z.strictObject({
  arn: sessionArn,
  accessKeyId: z.string().min(16),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1),
  /** When these credentials stop working; omitted = never. */
  expiresAt: z.coerce.date().optional(),
  permissions: z.array(s3PermissionSchema).default([]),
});

/** The operator's own identities (callers of STS and, with permissions, of S3). */
export const identitySchema = z.union([userIdentitySchema, sessionIdentitySchema]);
/** See {@link identitySchema}. */
export type IdentityConfig = z.infer<typeof identitySchema>;

/**
 * An IAM OIDC identity provider (what `CreateOpenIDConnectProvider` makes): the issuer URL and the
 * audiences (client ids) tokens may carry. Its ARN is
 * `arn:aws:iam::<accountId>:oidc-provider/<url without scheme>`.
 */
export const oidcProviderSchema = z.strictObject({
  accountId: z.string().regex(/^\d{12}$/, "12-digit AWS account id"),
  /** `https://host[/path]` exactly as the tokens' `iss`; plain http only for loopback issuers. */
  url: z
    .string()
    .url()
    .refine((u) => /^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(u) && !u.endsWith("/"), {
      message: "issuer URL: scheme and host, optional path, no query, fragment or trailing slash",
    }),
  /** The ClientIDList: accepted `aud` values (IAM allows up to 100). */
  clientIds: z.array(z.string().min(1).max(255)).min(1).max(100),
});
/** See {@link oidcProviderSchema}. */
export type OidcProviderConfig = z.infer<typeof oidcProviderSchema>;

/** Why IAM (or the emulator's loopback exception) would refuse `url` as an OIDC provider, if it would. */
export function oidcProviderUrlProblem(url: string, allowHttpIssuers = true): string | undefined {
  const parsed = oidcProviderSchema.shape.url.safeParse(url);
  if (!parsed.success) return parsed.error.issues[0]?.message ?? "is not a URL";
  const { protocol } = new URL(url);
  // IAM refuses to create a provider without https.
  if (protocol === "http:" && !(allowHttpIssuers && isLoopbackUrl(new URL(url)))) {
    return "must use https";
  }
  return undefined;
}

/** The provider's URL without its scheme: its ARN suffix and the prefix of its condition keys. */
export function oidcProviderHostPath(url: string): string {
  return url.replace(/^https?:\/\//, "");
}

/** The ARN IAM gives an OIDC provider of `accountId` for `url`. */
export function oidcProviderArn(accountId: string, url: string): string {
  return `arn:aws:iam::${accountId}:oidc-provider/${oidcProviderHostPath(url)}`;
}

/** A bucket and its region (DNS-valid S3 names). */
export const bucketSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "S3 bucket name"),
  region: z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, "AWS region code"),
});
/** See {@link bucketSchema}. */
export type BucketConfig = z.infer<typeof bucketSchema>;

/** Which requests a fault rule applies to; every given field must match. */
export const faultRuleSchema = z.strictObject({
  service: z.enum(["s3", "sts"]).optional(),
  bucket: z.string().optional(),
  /** Operation names as AWS spells them: `PutObject`, `UploadPart`, `AssumeRole`, … */
  operations: z.array(z.string()).optional(),
  /** Probability (0–1) of answering with an injected server error instead of serving. */
  errorRate: z.number().min(0).max(1).default(0),
  /** Which errors to inject; S3: `InternalError` (500), `SlowDown` (503); STS maps them to InternalFailure (500) / Throttling (400). */
  errors: z
    .array(z.enum(["InternalError", "SlowDown"]))
    .min(1)
    .default(["InternalError", "SlowDown"]),
  /** Added latency before the request is served. */
  latencyMs: z.number().int().min(0).default(0),
  /** Probability (0–1) of resetting the connection mid-body (request body, or response body for GetObject). */
  resetRate: z.number().min(0).max(1).default(0),
  /** Bytes read (request) or written (response) before the reset. */
  resetAfterBytes: z
    .number()
    .int()
    .min(0)
    .default(64 * 1024),
  /** Probability (0–1) that CompleteMultipartUpload answers 200 with an `<Error>` body, as S3 can. */
  completeErrorIn200Rate: z.number().min(0).max(1).default(0),
});
/** See {@link faultRuleSchema}. */
export type FaultRule = z.infer<typeof faultRuleSchema>;

/** Fault injection: deterministic for a given seed and request order. */
export const faultConfigSchema = z.strictObject({
  seed: z.number().int().default(1),
  rules: z.array(faultRuleSchema).default([]),
  /**
   * Credentials expiring early: sessions issued by AssumeRole stop working after this many
   * seconds even though their `Expiration` says later.
   */
  sessionLifetimeCapSeconds: z.number().int().min(0).optional(),
});
/** Fault configuration as accepted (defaults optional). */
export type FaultConfigInput = z.input<typeof faultConfigSchema>;
/** Fault configuration with defaults applied. */
export type FaultConfig = z.infer<typeof faultConfigSchema>;

/** The emulator's whole configuration. */
export const awsEmulatorConfigSchema = z.strictObject({
  /** Listen address; loopback only by design. */
  host: z.string().default("127.0.0.1"),
  port: z.number().int().min(0).max(65_535).default(0),
  /** Where objects and parts are written; default: a fresh temp dir removed by `stop()`. */
  dataDir: z.string().optional(),
  identities: z.array(identitySchema).default([]),
  roles: z.array(roleSchema).default([]),
  /** IAM OIDC identity providers, for AssumeRoleWithWebIdentity. */
  oidcProviders: z.array(oidcProviderSchema).default([]),
  /**
   * Accept `http://` OIDC providers whose host is loopback (127.0.0.0/8, ::1, localhost), as tests
   * and the demo run the issuer there. IAM itself accepts https only; non-loopback http never is.
   */
  allowHttpIssuers: z.boolean().default(true),
  /** How long a fetched issuer JWKS is used before it is fetched again. */
  jwksCacheTtlMs: z.number().int().min(0).default(300_000),
  /** Timeout for fetching an issuer's discovery document and JWKS. */
  issuerFetchTimeoutMs: z.number().int().min(1).default(5_000),
  buckets: z.array(bucketSchema).default([]),
  faults: faultConfigSchema.default({ seed: 1, rules: [] }),
  s3: z
    .strictObject({
      /** S3: 5 MiB for every part but the last. */
      minPartSizeBytes: z
        .number()
        .int()
        .min(0)
        .default(5 * MiB),
      /** S3: 5 GiB. */
      maxPartSizeBytes: z
        .number()
        .int()
        .min(1)
        .default(5 * 1024 * MiB),
      /** S3: 5 GiB for a single PutObject. */
      maxPutObjectBytes: z
        .number()
        .int()
        .min(1)
        .default(5 * 1024 * MiB),
      /** SigV4 allows 15 minutes of clock skew. */
      maxClockSkewMs: z
        .number()
        .int()
        .min(0)
        .default(15 * 60_000),
    })
    .default({
      minPartSizeBytes: 5 * MiB,
      maxPartSizeBytes: 5 * 1024 * MiB,
      maxPutObjectBytes: 5 * 1024 * MiB,
      maxClockSkewMs: 15 * 60_000,
    }),
  /** Injected clock (ms since epoch) so tests can expire credentials without sleeping. */
  now: z.custom<() => number>((v) => typeof v === "function").optional(),
});
/** Configuration accepted by `startAwsEmulator` (defaults optional). */
export type AwsEmulatorConfigInput = z.input<typeof awsEmulatorConfigSchema>;
/** Configuration with defaults applied. */
export type AwsEmulatorConfig = z.infer<typeof awsEmulatorConfigSchema>;

/** Validates a configuration and checks cross-references (permissions name existing buckets). */
export function parseAwsEmulatorConfig(input: AwsEmulatorConfigInput): AwsEmulatorConfig {
  const config = awsEmulatorConfigSchema.parse(input);
  const buckets = new Set<string>();
  for (const b of config.buckets) {
    if (buckets.has(b.name)) throw new Error(`aws emulator config: bucket ${b.name} listed twice`);
    buckets.add(b.name);
  }
  const keys = new Set<string>();
  for (const identity of config.identities) {
    if (keys.has(identity.accessKeyId)) {
      throw new Error(`aws emulator config: access key ${identity.accessKeyId} listed twice`);
    }
    keys.add(identity.accessKeyId);
  }
  const roles = new Set<string>();
  for (const role of config.roles) {
    if (roles.has(role.arn)) throw new Error(`aws emulator config: role ${role.arn} listed twice`);
    roles.add(role.arn);
  }
  const providers = new Set<string>();
  for (const provider of config.oidcProviders) {
    const arn = oidcProviderArn(provider.accountId, provider.url);
    if (providers.has(arn)) throw new Error(`aws emulator config: ${arn} listed twice`);
    providers.add(arn);
    const problem = oidcProviderUrlProblem(provider.url, config.allowHttpIssuers);
    if (problem) throw new Error(`aws emulator config: OIDC provider ${provider.url} ${problem}`);
  }
  return config;
}

/** Identifiers of the demo setup, for the demo command and tests. */
export const DEMO = {
  operatorAccountId: "111111111111",
  operatorUserArn: "arn:aws:iam::111111111111:user/recording-relay",
  operatorAccessKeyId: "EMULATOR-OPERATOR-KEY",
  operatorSecretAccessKey: "emulator/operator/secret/not-a-real-key/0000",
  customerAccountId: "222222222222",
  roleArn: "arn:aws:iam::222222222222:role/RecordingWriter",
  /**
   * An unsafe role: it trusts the operator's account without the ExternalId condition, so any
   * workspace of the relay could assume it (what the confused-deputy self-check warns about).
   */
  unsafeRoleArn: "arn:aws:iam::222222222222:role/RecordingWriterWithoutExternalId",
  /** The role the relay assumes with its own OIDC token (AssumeRoleWithWebIdentity). */
  webIdentityRoleArn: "arn:aws:iam::222222222222:role/RecordingWriterWebIdentity",
  /** The audience AWS documents for tokens presented to STS. */
  webIdentityAudience: "sts.amazonaws.com",
  externalId: "recording-relay-demo",
  bucket: "acme-recordings",
  region: "eu-west-1",
} as const;

/** Options of {@link demoAwsConfig}. */
export interface DemoAwsOptions {
  /** The ExternalId the AssumeRole role requires (e.g. a Workspace ID); default the demo's. */
  externalId?: string;
  /**
   * Also trust the relay's own issuer: an IAM OIDC provider for `issuerUrl` (client id
   * `sts.amazonaws.com`) and a role assumable with AssumeRoleWithWebIdentity by tokens whose
   * `sub` is `workspaceId`.
   */
  webIdentity?: { issuerUrl: string; workspaceId: string };
}

/**
 * A ready customer setup: the operator's long-term key; one customer role that trusts the
 * operator's account with an ExternalId (the demo's, or the one given, e.g. a Workspace ID) and
 * allows 12 h sessions, and an unsafe one trusting the account without it ({@link DEMO}
 * `unsafeRoleArn`); optionally an OIDC provider for the relay's issuer and a web-identity
 * role trusting it for one workspace; one bucket in eu-west-1.
 */
export function demoAwsConfig(options: DemoAwsOptions = {}): AwsEmulatorConfigInput {
  const permissions: S3Permission[] = [
    {
      bucket: DEMO.bucket,
      actions: [
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:ListBucket",
      ],
    },
  ];
  const config: AwsEmulatorConfigInput & { roles: RoleConfig[] } = {
    identities: [
      {
        arn: DEMO.operatorUserArn,
        accessKeyId: DEMO.operatorAccessKeyId,
        secretAccessKey: DEMO.operatorSecretAccessKey,
      },
    ],
    roles: [
      {
        arn: DEMO.roleArn,
        maxSessionDurationSeconds: 43_200,
        trustPolicy: {
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { AWS: `arn:aws:iam::${DEMO.operatorAccountId}:root` },
              Action: "sts:AssumeRole",
              Condition: {
                StringEquals: { "sts:ExternalId": options.externalId ?? DEMO.externalId },
              },
            },
          ],
        },
        permissions,
      },
      {
        arn: DEMO.unsafeRoleArn,
        maxSessionDurationSeconds: 43_200,
        trustPolicy: {
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { AWS: `arn:aws:iam::${DEMO.operatorAccountId}:root` },
              Action: "sts:AssumeRole",
            },
          ],
        },
        permissions,
      },
    ],
    buckets: [{ name: DEMO.bucket, region: DEMO.region }],
  };
  if (options.webIdentity) {
    const { issuerUrl, workspaceId } = options.webIdentity;
    const hostPath = oidcProviderHostPath(issuerUrl);
    config.oidcProviders = [
      {
        accountId: DEMO.customerAccountId,
        url: issuerUrl,
        clientIds: [DEMO.webIdentityAudience],
      },
    ];
    config.roles.push({
      arn: DEMO.webIdentityRoleArn,
      maxSessionDurationSeconds: 43_200,
      trustPolicy: {
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Federated: oidcProviderArn(DEMO.customerAccountId, issuerUrl) },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: {
              StringEquals: {
                [`${hostPath}:aud`]: DEMO.webIdentityAudience,
                [`${hostPath}:sub`]: workspaceId,
              },
            },
          },
        ],
      },
      permissions,
    });
  }
  return config;
}
