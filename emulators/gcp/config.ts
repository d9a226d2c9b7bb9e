/**
 * The customer-side model the emulator enforces: projects, Workload Identity pools and OIDC
 * providers, service accounts with their IAM bindings, and buckets with object permissions.
 * It mirrors what a customer sets up with gcloud/Terraform, in Google's own vocabulary.
 */
import { z } from "zod";
import { CelSyntaxError, parseCel } from "./cel.ts";

const ID_PATTERN = /^[a-z0-9-]{4,32}$/;

/** `roles/iam.workloadIdentityUser` and `roles/iam.serviceAccountTokenCreator` grant getAccessToken. */
export const TOKEN_ROLES = [
  "roles/iam.workloadIdentityUser",
  "roles/iam.serviceAccountTokenCreator",
];

const providerSchema = z.object({
  providerId: z
    .string()
    .regex(ID_PATTERN)
    .refine((id) => !id.startsWith("gcp-"), "must not start with gcp-"),
  disabled: z.boolean().default(false),
  /** The OIDC issuer; must equal the token's `iss` and serve `/.well-known/openid-configuration`. */
  issuerUri: z.url(),
  /** Up to 10 accepted `aud` values; empty means the provider's resource name (± `https:`). */
  allowedAudiences: z.array(z.string().max(256)).max(10).default([]),
  /** Google attribute → CEL over `assertion`; must map `google.subject`. */
  attributeMapping: z
    .record(
      z.string().regex(/^(google\.(subject|groups)|attribute\.[a-z0-9_]{1,100})$/),
      z.string(),
    )
    .refine((m) => "google.subject" in m, "attributeMapping must map google.subject"),
  /** CEL over `assertion`, `google`, `attribute`; must evaluate to true. */
  attributeCondition: z.string().max(4096).optional(),
  /** Keys uploaded on the provider instead of fetching the issuer's JWKS (Google's `jwksJson`). */
  jwksJson: z.string().optional(),
});

const poolSchema = z.object({
  poolId: z
    .string()
    .regex(ID_PATTERN)
    .refine((id) => !id.startsWith("gcp-"), "must not start with gcp-"),
  disabled: z.boolean().default(false),
  providers: z.array(providerSchema).default([]),
});

const serviceAccountSchema = z.object({
  email: z
    .string()
    .regex(
      /^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$/,
    ),
  uniqueId: z
    .string()
    .regex(/^[0-9]{21}$/)
    .optional(),
  disabled: z.boolean().default(false),
  /** IAM policy on the service account (resource), e.g. workloadIdentityUser for principals. */
  bindings: z.array(z.object({ role: z.string(), members: z.array(z.string()) })).default([]),
  /** generateAccessToken's ceiling: 3600 s unless the org policy extends it (up to 43 200 s). */
  maxTokenLifetimeSeconds: z.number().int().min(1).max(43_200).default(3600),
});

const projectSchema = z.object({
  projectNumber: z.string().regex(/^[0-9]{6,20}$/),
  projectId: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/),
  workloadIdentityPools: z.array(poolSchema).default([]),
  serviceAccounts: z.array(serviceAccountSchema).default([]),
});

/** Object permissions the emulator checks. */
export const STORAGE_PERMISSIONS = [
  "storage.objects.create",
  "storage.objects.delete",
  "storage.objects.get",
  "storage.objects.list",
  "storage.buckets.get",
] as const;
/** One storage permission. */
export type StoragePermission = (typeof STORAGE_PERMISSIONS)[number];

/** Predefined roles, reduced to the permissions the emulator checks. */
export const STORAGE_ROLES: Record<string, readonly StoragePermission[]> = {
  "roles/storage.objectCreator": ["storage.objects.create"],
  "roles/storage.objectViewer": ["storage.objects.get", "storage.objects.list"],
  "roles/storage.objectUser": [
    "storage.objects.create",
    "storage.objects.delete",
    "storage.objects.get",
    "storage.objects.list",
  ],
  "roles/storage.objectAdmin": [
    "storage.objects.create",
    "storage.objects.delete",
    "storage.objects.get",
    "storage.objects.list",
  ],
  "roles/storage.admin": [...STORAGE_PERMISSIONS],
};

const grantSchema = z
  .object({
    /** `serviceAccount:<email>`, `principal://…` or `principalSet://…`. */
    member: z.string(),
    role: z.string().optional(),
    permissions: z.array(z.enum(STORAGE_PERMISSIONS)).optional(),
    /** IAM condition `resource.name.startsWith("projects/_/buckets/<b>/objects/<prefix>")`. */
    prefix: z.string().optional(),
  })
  .refine(
    (g) => (g.role === undefined) !== (g.permissions === undefined),
    "give exactly one of role, permissions",
  )
  .refine((g) => g.role === undefined || g.role in STORAGE_ROLES, "unknown storage role");

const bucketSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/),
  projectNumber: z.string().optional(),
  grants: z.array(grantSchema).default([]),
});

/** The customer model as written in tests and the demo. */
export const customerModelSchema = z.object({
  projects: z.array(projectSchema).default([]),
  buckets: z.array(bucketSchema).default([]),
});

/** Customer model input (defaults optional). */
export type CustomerModelInput = z.input<typeof customerModelSchema>;
/** Customer model with defaults applied; the running emulator reads it live on every request. */
export type CustomerModel = z.output<typeof customerModelSchema>;
/** One project. */
export type Project = CustomerModel["projects"][number];
/** One workload identity pool. */
export type WorkloadIdentityPool = Project["workloadIdentityPools"][number];
/** One OIDC provider. */
export type OidcProvider = WorkloadIdentityPool["providers"][number];
/** One service account. */
export type ServiceAccount = Project["serviceAccounts"][number];
/** One bucket. */
export type Bucket = CustomerModel["buckets"][number];

/** Validates the customer model (shapes, ids, CEL syntax) and applies defaults; throws on error. */
export function parseCustomerModel(input: CustomerModelInput): CustomerModel {
  const model = customerModelSchema.parse(input);
  for (const project of model.projects) {
    for (const pool of project.workloadIdentityPools) {
      for (const provider of pool.providers) {
        const expressions = [
          ...Object.values(provider.attributeMapping),
          provider.attributeCondition ?? "true",
        ];
        for (const expression of expressions) {
          try {
            parseCel(expression);
          } catch (error) {
            if (error instanceof CelSyntaxError) {
              throw new Error(
                `provider ${pool.poolId}/${provider.providerId}: invalid CEL '${expression}': ${error.message}`,
              );
            }
            throw error;
          }
        }
      }
    }
  }
  return model;
}

/** The provider's full resource name, which is also its default accepted audience. */
export function providerResourceName(
  projectNumber: string,
  poolId: string,
  providerId: string,
): string {
  return `//iam.googleapis.com/projects/${projectNumber}/locations/global/workloadIdentityPools/${poolId}/providers/${providerId}`;
}

/** The pool's principal prefix used in `principal://` and `principalSet://` members. */
export function poolPrincipalPath(projectNumber: string, poolId: string): string {
  return `iam.googleapis.com/projects/${projectNumber}/locations/global/workloadIdentityPools/${poolId}`;
}

/** Finds a service account by email or numeric unique id across all projects. */
export function findServiceAccount(
  model: CustomerModel,
  emailOrId: string,
): ServiceAccount | undefined {
  for (const project of model.projects) {
    const account = project.serviceAccounts.find(
      (sa) => sa.email === emailOrId || sa.uniqueId === emailOrId,
    );
    if (account) return account;
  }
  return undefined;
}
