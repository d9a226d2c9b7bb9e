import type { RoleConfig } from "./config.ts";
import { accountOf, type CredentialStore, iamUniqueId, type Principal } from "./credentials.ts";
import { AwsError, stsErrors } from "./errors.ts";
import { trustAllows } from "./trust.ts";
import { xmlElement } from "./xml.ts";

const NS = "https://sts.amazonaws.com/doc/2011-06-15/";
const ONE_HOUR_SECONDS = 3600;

/** What STS actions need from the emulator. */
export interface StsContext {
  roles: ReadonlyMap<string, RoleConfig>;
  credentials: CredentialStore;
  nowMs: number;
  /** Credentials expiring early (fault injection): sessions stop working after this. */
  sessionLifetimeCapSeconds: number | undefined;
  requestId: string;
}

/** Runs one STS query action for an authenticated caller; returns the XML answer. */
export function runStsAction(params: URLSearchParams, caller: Principal, ctx: StsContext): string {
  const action = params.get("Action") ?? "";
  switch (action) {
    case "AssumeRole":
      return assumeRole(params, caller, ctx);
    case "GetCallerIdentity":
      return response(
        "GetCallerIdentity",
        xmlElement("Arn", caller.arn) +
          xmlElement("UserId", caller.userId) +
          xmlElement("Account", caller.accountId),
        ctx.requestId,
      );
    default:
      throw stsErrors.invalidAction(action);
  }
}

/** Wraps an action's result elements in the query protocol's response document. */
export function response(action: string, result: string, requestId: string): string {
  return (
    `<${action}Response xmlns="${NS}">\n  <${action}Result>${result}</${action}Result>\n` +
    `  <ResponseMetadata>${xmlElement("RequestId", requestId)}</ResponseMetadata>\n</${action}Response>\n`
  );
}

/** Collects violations in the `1 validation error detected: …` format of AWS's query APIs. */
export class Violations {
  readonly items: string[] = [];

  /** Checks a string's length against the model's bounds. */
  length(member: string, value: string | null, min: number, max: number): void {
    if (value === null) return;
    if (value.length < min)
      this.add(value, member, `Member must have length greater than or equal to ${min}`);
    else if (value.length > max)
      this.add(value, member, `Member must have length less than or equal to ${max}`);
  }

  /** Checks a string against the model's pattern. */
  pattern(member: string, value: string | null, pattern: string): void {
    if (value === null) return;
    if (!new RegExp(`^${pattern}$`, "u").test(value)) {
      this.add(value, member, `Member must satisfy regular expression pattern: ${pattern}`);
    }
  }

  /** Checks that a required member is present. */
  required(member: string, value: string | null): void {
    if (value === null)
      this.items.push(
        `Value null at '${member}' failed to satisfy constraint: Member must not be null`,
      );
  }

  /** Checks the RoleArn and RoleSessionName every AssumeRole* action requires. */
  roleAndSession(roleArn: string | null, sessionName: string | null): void {
    this.required("roleArn", roleArn);
    this.length("roleArn", roleArn, 20, 2048);
    this.required("roleSessionName", sessionName);
    this.length("roleSessionName", sessionName, 2, 64);
    this.pattern("roleSessionName", sessionName, "[\\w+=,.@-]*");
  }

  /** Parses DurationSeconds (default one hour) and checks the model's 900–43200 range. */
  duration(text: string | null): number {
    if (text === null) return ONE_HOUR_SECONDS;
    if (!/^-?\d+$/.test(text)) {
      throw new AwsError(400, "MalformedInput", `Invalid value for DurationSeconds: ${text}`);
    }
    const seconds = Number(text);
    if (seconds < 900)
      this.add(text, "durationSeconds", "Member must have value greater than or equal to 900");
    else if (seconds > 43_200)
      this.add(text, "durationSeconds", "Member must have value less than or equal to 43200");
    return seconds;
  }

  /** Records one violation. */
  add(value: string, member: string, constraint: string): void {
    this.items.push(`Value '${value}' at '${member}' failed to satisfy constraint: ${constraint}`);
  }

  /** Throws the ValidationError listing every violation, if any. */
  throwIfAny(): void {
    const n = this.items.length;
    if (n === 0) return;
    throw stsErrors.validation(
      `${n} validation error${n === 1 ? "" : "s"} detected: ${this.items.join("; ")}`,
    );
  }
}

function assumeRole(params: URLSearchParams, caller: Principal, ctx: StsContext): string {
  const roleArn = params.get("RoleArn");
  const sessionName = params.get("RoleSessionName");
  const externalId = params.get("ExternalId");
  const durationText = params.get("DurationSeconds");
  const sourceIdentity = params.get("SourceIdentity");
  const policy = params.get("Policy");
  const tagKeys = [...params.keys()].filter((k) => /^Tags\.member\.\d+\.Key$/.test(k));

  const v = new Violations();
  v.roleAndSession(roleArn, sessionName);
  v.length("externalId", externalId, 2, 1224);
  v.pattern("externalId", externalId, "[\\w+=,.@:\\/-]*");
  v.length("sourceIdentity", sourceIdentity, 2, 64);
  v.pattern("sourceIdentity", sourceIdentity, "[\\w+=,.@-]*");
  v.length("policy", policy, 1, 2048);
  if (tagKeys.length > 50)
    v.add(`[${tagKeys.length} tags]`, "tags", "Member must have length less than or equal to 50");
  const durationSeconds = v.duration(durationText);
  v.throwIfAny();
  if (sourceIdentity?.startsWith("aws:")) {
    throw stsErrors.validation("SourceIdentity must not begin with the prefix 'aws:'");
  }

  const arn = roleArn!;
  const role = ctx.roles.get(arn);
  const actions = ["sts:AssumeRole"];
  if (sourceIdentity !== null) actions.push("sts:SetSourceIdentity");
  if (tagKeys.length > 0 || params.has("TransitiveTagKeys.member.1"))
    actions.push("sts:TagSession");
  const context = {
    "sts:ExternalId": externalId ?? undefined,
    "sts:RoleSessionName": sessionName!,
    "sts:SourceIdentity": sourceIdentity ?? undefined,
    "aws:PrincipalArn": caller.roleArn ?? caller.arn,
    "aws:PrincipalAccount": caller.accountId,
  };
  for (const action of actions) {
    // One text for "no such role", "not trusted" and "wrong ExternalId", as AWS does.
    if (!role || !trustAllows(role.trustPolicy, caller, action, context)) {
      throw stsErrors.accessDenied(caller.arn, action, arn);
    }
  }
  const trustedRole = role!;
  if (caller.kind === "assumed-role" && durationSeconds > ONE_HOUR_SECONDS) {
    throw stsErrors.validation(
      "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
    );
  }
  const session = issueRoleSession(trustedRole, sessionName!, durationSeconds, ctx);
  const packed = policy !== null || tagKeys.length > 0 ? xmlElement("PackedPolicySize", 6) : "";
  return response(
    "AssumeRole",
    session.xml +
      packed +
      (sourceIdentity === null ? "" : xmlElement("SourceIdentity", sourceIdentity)),
    ctx.requestId,
  );
}

/** What issuing a role session needs: where credentials live, the clock and the fault cap. */
export type SessionContext = Pick<
  StsContext,
  "credentials" | "nowMs" | "sessionLifetimeCapSeconds"
>;

/**
 * Issues temporary credentials for a session of `role` (after trust was decided), enforcing the
 * role's MaxSessionDuration; returns the session principal and its `<Credentials>` and
 * `<AssumedRoleUser>` elements.
 */
export function issueRoleSession(
  role: RoleConfig,
  sessionName: string,
  durationSeconds: number,
  ctx: SessionContext,
): { principal: Principal; xml: string } {
  if (durationSeconds > role.maxSessionDurationSeconds) {
    throw stsErrors.validation(
      "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
  }
  // Expiration is announced in whole seconds; keep the real expiry identical to it.
  const expiresAtMs = Math.floor((ctx.nowMs + durationSeconds * 1000) / 1000) * 1000;
  const cap = ctx.sessionLifetimeCapSeconds;
  const invalidAfterMs =
    cap === undefined ? expiresAtMs : Math.min(expiresAtMs, ctx.nowMs + cap * 1000);
  const arn = role.arn;
  const accountId = accountOf(arn);
  const roleName = arn.slice(arn.lastIndexOf("/") + 1);
  const partition = arn.split(":")[1]!;
  const roleId = iamUniqueId("AROA", arn);
  const principal: Principal = {
    kind: "assumed-role",
    arn: `arn:${partition}:sts::${accountId}:assumed-role/${roleName}/${sessionName}`,
    accountId,
    userId: `${roleId}:${sessionName}`,
    roleArn: arn,
    permissions: role.permissions,
  };
  const issued = ctx.credentials.issue(principal, expiresAtMs, invalidAfterMs);
  const xml =
    "<Credentials>" +
    xmlElement("AccessKeyId", issued.accessKeyId) +
    xmlElement("SecretAccessKey", issued.secretAccessKey) +
    xmlElement("SessionToken", issued.sessionToken!) +
    xmlElement("Expiration", new Date(expiresAtMs).toISOString().replace(/\.\d{3}Z$/, "Z")) +
    "</Credentials>" +
    `<AssumedRoleUser>${xmlElement("Arn", principal.arn)}${xmlElement("AssumedRoleId", principal.userId)}</AssumedRoleUser>`;
  return { principal, xml };
}
